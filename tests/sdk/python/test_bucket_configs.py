"""Bucket configurations through oss2 (V1 and V4) and the v2 SDK, and the ones that take effect
(bucket policy, referer, static website, lifecycle, PublicAccessBlock, storage capacity), judged
with anonymous requests (requests) and STS sessions."""

import json
import time

import pytest
import requests

import alibabacloud_oss_v2 as oss
import oss2
from oss2.models import (AbortMultipartUpload, BucketLifecycle, BucketLogging, BucketReferer,
                         BucketUserQos, BucketVersioningConfig, BucketWebsite, LifecycleExpiration,
                         LifecycleRule, StorageTransition, Tagging, TaggingRule)

from conftest import oss2_bucket, v2_client
from ossd_helpers import OssdServer, ServerStartError, raw_request, error_fields, unique_bucket


def expect_oss2(call, status, code):
    with pytest.raises(oss2.exceptions.OssError) as e:
        call()
    assert (e.value.status, e.value.code) == (status, code), e.value
    return e.value


def expect_v2(call, status, code):
    with pytest.raises(oss.exceptions.OperationError) as e:
        call()
    se = e.value.unwrap()
    assert (se.status_code, se.code) == (status, code), se
    return se


def anon(server, bucket, key="", headers=None, query=""):
    url = f"{server.endpoint}/{bucket}/{key}" + (f"?{query}" if query else "")
    return requests.get(url, headers=headers or {}, timeout=30)


# ---------------------------------------------------------------------------
# error precedence

def test_missing_bucket_answers_404_before_credentials(ossd):
    missing = unique_bucket("gone")
    for ak in ("NoSuchAccessKeyId12345", ossd.ak):
        r = raw_request(ossd.endpoint, "GET", missing, query={"acl": ""}, ak=ak, sk="wrong-secret")
        assert r.status_code == 404, r.text
        assert error_fields(r)["Code"] == "NoSuchBucket"
    # Anonymous as well.
    assert anon(ossd, missing).status_code == 404
    # A bucket that exists still judges the credentials.
    b = oss2_bucket(ossd, unique_bucket("exists"))
    b.create_bucket()
    r = raw_request(ossd.endpoint, "GET", b.bucket_name, query={"acl": ""}, ak="NoSuchAccessKeyId12345", sk="x")
    assert (r.status_code, error_fields(r)["Code"]) == (403, "InvalidAccessKeyId")
    # The SDKs' existence probes.
    wrong = v2_client(ossd, ak="NoSuchAccessKeyId12345", sk="wrong")
    assert wrong.is_bucket_exist(missing) is False
    assert wrong.is_bucket_exist(b.bucket_name) is True
    bad = oss2_bucket(ossd, missing, ak="NoSuchAccessKeyId12345", sk="wrong")
    expect_oss2(bad.get_bucket_info, 404, "NoSuchBucket")


# ---------------------------------------------------------------------------
# tagging

def test_bucket_tagging_oss2(bucket):
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    rule = TaggingRule()
    rule.add("env", "prod")
    rule.add("team", "storage")
    bucket.put_bucket_tagging(Tagging(rule))
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {"env": "prod", "team": "storage"}
    bucket.delete_bucket_tagging(params={"tagging": "env"})
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {"team": "storage"}
    bucket.delete_bucket_tagging()
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    many = TaggingRule()
    for i in range(21):
        many.add(f"k{i}", "v")
    expect_oss2(lambda: bucket.put_bucket_tagging(Tagging(many)), 400, "InvalidTag")


def test_bucket_tags_v2(ossd):
    c = v2_client(ossd)
    name = unique_bucket("v2tags")
    c.put_bucket(oss.PutBucketRequest(bucket=name))
    c.put_bucket_tags(oss.PutBucketTagsRequest(bucket=name, tagging=oss.Tagging(
        tag_set=oss.TagSet(tags=[oss.Tag(key="a", value="1"), oss.Tag(key="b", value="2")]))))
    got = c.get_bucket_tags(oss.GetBucketTagsRequest(bucket=name))
    assert sorted((t.key, t.value) for t in got.tagging.tag_set.tags) == [("a", "1"), ("b", "2")]
    c.delete_bucket_tags(oss.DeleteBucketTagsRequest(bucket=name))
    got = c.get_bucket_tags(oss.GetBucketTagsRequest(bucket=name))
    assert not (got.tagging.tag_set.tags or [])


# ---------------------------------------------------------------------------
# configuration round trips

def test_config_round_trips_oss2(bucket):
    expect_oss2(bucket.get_bucket_website, 404, "NoSuchWebsiteConfiguration")
    bucket.put_bucket_website(BucketWebsite("index.html", "error.html"))
    w = bucket.get_bucket_website()
    assert (w.index_file, w.error_file) == ("index.html", "error.html")
    bucket.delete_bucket_website()
    expect_oss2(bucket.get_bucket_website, 404, "NoSuchWebsiteConfiguration")

    r = bucket.get_bucket_referer()
    assert r.allow_empty_referer is True and r.referers == []
    bucket.put_bucket_referer(BucketReferer(False, ["http://*.example.com"], allow_truncate_query_string=False,
                                            black_referers=["http://bad.example.com"]))
    r = bucket.get_bucket_referer()
    assert (r.allow_empty_referer, r.referers, r.allow_truncate_query_string, r.black_referers) == (
        False, ["http://*.example.com"], False, ["http://bad.example.com"])
    bucket.put_bucket_referer(BucketReferer(True, []))

    assert not bucket.get_bucket_logging().target_bucket
    expect_oss2(lambda: bucket.put_bucket_logging(BucketLogging(unique_bucket("nolog"), "p/")), 400,
                "InvalidTargetBucketForLogging")
    bucket.put_bucket_logging(BucketLogging(bucket.bucket_name, "logs/"))
    lg = bucket.get_bucket_logging()
    assert (lg.target_bucket, lg.target_prefix) == (bucket.bucket_name, "logs/")
    bucket.delete_bucket_logging()
    assert not bucket.get_bucket_logging().target_bucket

    expect_oss2(bucket.get_bucket_lifecycle, 404, "NoSuchLifecycle")
    rule = LifecycleRule("r1", "logs/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=30),
                         abort_multipart_upload=AbortMultipartUpload(days=3))
    bucket.put_bucket_lifecycle(BucketLifecycle([rule]))
    got = bucket.get_bucket_lifecycle().rules
    assert [(r.id, r.prefix, r.expiration.days, r.abort_multipart_upload.days) for r in got] == [
        ("r1", "logs/", 30, 3)]
    both = LifecycleRule("r2", "x/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=0))
    expect_oss2(lambda: bucket.put_bucket_lifecycle(BucketLifecycle([both])), 400, "InvalidArgument")
    bucket.delete_bucket_lifecycle()
    expect_oss2(bucket.get_bucket_lifecycle, 404, "NoSuchLifecycle")

    expect_oss2(bucket.get_bucket_policy, 404, "NoSuchBucketPolicy")
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Principal": ["*"], "Action": ["oss:GetObject"],
                                             "Resource": [f"acs:oss:*:*:{bucket.bucket_name}/pub/*"]}]}
    bucket.put_bucket_policy(json.dumps(policy))
    assert json.loads(bucket.get_bucket_policy().policy) == policy
    expect_oss2(lambda: bucket.put_bucket_policy('{"Version":"1","Statement":[{"Effect":"Maybe"}]}'), 400,
                "InvalidPolicyDocument")
    bucket.delete_bucket_policy()
    expect_oss2(bucket.get_bucket_policy, 404, "NoSuchBucketPolicy")

    assert bucket.get_bucket_request_payment().payer == "BucketOwner"
    bucket.put_bucket_request_payment("Requester")
    assert bucket.get_bucket_request_payment().payer == "Requester"

    expect_oss2(bucket.get_bucket_transfer_acceleration, 404, "NoSuchTransferAccelerationConfiguration")
    bucket.put_bucket_transfer_acceleration("true")
    assert bucket.get_bucket_transfer_acceleration().enabled == "true"

    assert bucket.get_bucket_versioning().status is None
    expect_oss2(lambda: bucket.put_bucket_versioning(BucketVersioningConfig("Enabled")), 501, "NotImplemented")
    assert bucket.get_bucket_versioning().status is None

    assert bucket.get_bucket_storage_capacity().storage_capacity == -1
    bucket.set_bucket_storage_capacity(BucketUserQos(100))
    assert bucket.get_bucket_storage_capacity().storage_capacity == 100


def test_config_round_trips_v2(ossd):
    c = v2_client(ossd)
    name = unique_bucket("v2cfg")
    c.put_bucket(oss.PutBucketRequest(bucket=name))
    c.put_bucket_website(oss.PutBucketWebsiteRequest(bucket=name, website_configuration=oss.WebsiteConfiguration(
        index_document=oss.IndexDocument(suffix="index.html", support_sub_dir=True, type=0),
        error_document=oss.ErrorDocument(key="err.html", http_status=404))))
    w = c.get_bucket_website(oss.GetBucketWebsiteRequest(bucket=name)).website_configuration
    assert (w.index_document.suffix, w.index_document.support_sub_dir, w.error_document.key) == (
        "index.html", True, "err.html")

    expect_v2(lambda: c.get_user_defined_log_fields_config(oss.GetUserDefinedLogFieldsConfigRequest(bucket=name)),
              404, "NoSuchUserDefinedLogFieldsConfig")
    c.put_user_defined_log_fields_config(oss.PutUserDefinedLogFieldsConfigRequest(
        bucket=name, user_defined_log_fields_configuration=oss.UserDefinedLogFieldsConfiguration(
            header_set=oss.LoggingHeaderSet(headers=["x-trace"]),
            param_set=oss.LoggingParamSet(parameters=["src"]))))
    u = c.get_user_defined_log_fields_config(oss.GetUserDefinedLogFieldsConfigRequest(bucket=name))
    assert u.user_defined_log_fields_configuration.header_set.headers == ["x-trace"]
    assert u.user_defined_log_fields_configuration.param_set.parameters == ["src"]
    c.delete_user_defined_log_fields_config(oss.DeleteUserDefinedLogFieldsConfigRequest(bucket=name))
    expect_v2(lambda: c.get_user_defined_log_fields_config(oss.GetUserDefinedLogFieldsConfigRequest(bucket=name)),
              404, "NoSuchUserDefinedLogFieldsConfig")

    v = c.get_bucket_versioning(oss.GetBucketVersioningRequest(bucket=name))
    assert v.version_status is None
    expect_v2(lambda: c.put_bucket_versioning(oss.PutBucketVersioningRequest(
        bucket=name, versioning_configuration=oss.VersioningConfiguration(status="Enabled"))), 501, "NotImplemented")

    pab = c.get_bucket_public_access_block(oss.GetBucketPublicAccessBlockRequest(bucket=name))
    assert pab.public_access_block_configuration.block_public_access is False
    c.put_bucket_public_access_block(oss.PutBucketPublicAccessBlockRequest(
        bucket=name, public_access_block_configuration=oss.PublicAccessBlockConfiguration(block_public_access=True)))
    pab = c.get_bucket_public_access_block(oss.GetBucketPublicAccessBlockRequest(bucket=name))
    assert pab.public_access_block_configuration.block_public_access is True
    c.delete_bucket_public_access_block(oss.DeleteBucketPublicAccessBlockRequest(bucket=name))

    st = c.get_bucket_policy_status(oss.GetBucketPolicyStatusRequest(bucket=name))
    assert st.policy_status.is_public is False
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "oss:GetObject",
                                             "Resource": f"acs:oss:*:*:{name}/*"}]}
    c.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=name, body=json.dumps(policy)))
    st = c.get_bucket_policy_status(oss.GetBucketPolicyStatusRequest(bucket=name))
    assert st.policy_status.is_public is True


# ---------------------------------------------------------------------------
# settings that take effect

def test_bucket_policy_for_anonymous_callers(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("pol"), auth_version)
    b.create_bucket()
    b.put_object("pub/a.txt", b"public")
    b.put_object("priv/b.txt", b"private")
    assert anon(ossd, b.bucket_name, "pub/a.txt").status_code == 403
    policy = {"Version": "1", "Statement": [
        {"Effect": "Allow", "Principal": ["*"], "Action": ["oss:GetObject"],
         "Resource": [f"acs:oss:*:*:{b.bucket_name}/pub/*"]},
        {"Effect": "Allow", "Principal": ["*"], "Action": ["oss:ListObjects"],
         "Resource": [f"acs:oss:*:*:{b.bucket_name}"]},
    ]}
    b.put_bucket_policy(json.dumps(policy))
    r = anon(ossd, b.bucket_name, "pub/a.txt")
    assert (r.status_code, r.content) == (200, b"public")
    assert anon(ossd, b.bucket_name, "priv/b.txt").status_code == 403
    assert anon(ossd, b.bucket_name).status_code == 200
    # A Deny wins over a public-read ACL.
    b.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert anon(ossd, b.bucket_name, "priv/b.txt").status_code == 200
    policy["Statement"].append({"Effect": "Deny", "Principal": ["*"], "Action": ["oss:GetObject"],
                                "Resource": [f"acs:oss:*:*:{b.bucket_name}/priv/*"]})
    b.put_bucket_policy(json.dumps(policy))
    r = anon(ossd, b.bucket_name, "priv/b.txt")
    assert (r.status_code, error_fields(r)["Code"]) == (403, "AccessDenied")
    # The root key is not bound by it.
    assert b.get_object("priv/b.txt").read() == b"private"
    # PublicAccessBlock switches off the public ACL and the public grants.
    b.put_bucket_public_access_block(True)
    assert anon(ossd, b.bucket_name, "pub/a.txt").status_code == 403
    # ... and refuses new public permissions.
    expect_oss2(lambda: b.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE), 403, "AccessDenied")
    expect_oss2(lambda: b.put_object_acl("priv/b.txt", oss2.OBJECT_ACL_PUBLIC_READ), 403, "AccessDenied")
    expect_oss2(lambda: b.put_bucket_policy(json.dumps(policy)), 403, "AccessDenied")
    b.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    b.delete_bucket_public_access_block()
    assert anon(ossd, b.bucket_name, "pub/a.txt").status_code == 200
    assert anon(ossd, b.bucket_name, "priv/b.txt").status_code == 403


def test_bucket_policy_with_sts_sessions(tmp_path_factory):
    from test_sts import Env, assume, sts_bucket
    env = Env(tmp_path_factory.mktemp("ossd-sts-policy"))
    try:
        creds = assume(env.server)
        root_other = oss2_bucket(env.server, env.other)
        session_other = sts_bucket(env.server, creds, env.other)
        # The role's policy does not cover the other bucket: denied, until its bucket policy allows.
        expect_oss2(lambda: session_other.get_object("o.txt"), 403, "AccessDenied")
        policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Principal": ["1234567890123456"],
                                                 "Action": ["oss:GetObject"],
                                                 "Resource": [f"acs:oss:*:*:{env.other}/*"]}]}
        root_other.put_bucket_policy(json.dumps(policy))
        assert session_other.get_object("o.txt").read() == b"other"
        # A bucket-policy Deny wins over the role's Allow.
        root = oss2_bucket(env.server, env.bucket)
        root.put_bucket_policy(json.dumps({"Version": "1", "Statement": [
            {"Effect": "Deny", "Principal": ["*"], "Action": ["oss:GetObject"],
             "Resource": [f"acs:oss:*:*:{env.bucket}/readonly/*"]}]}))
        session = sts_bucket(env.server, creds, env.bucket)
        expect_oss2(lambda: session.get_object("readonly/r.txt"), 403, "AccessDenied")
        root.delete_bucket_policy()
        assert session.get_object("readonly/r.txt").read() == b"read me"
    finally:
        env.server.stop()


def test_referer_lists(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("ref"), auth_version)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    b.put_object("pic.png", b"png")
    b.put_bucket_referer(BucketReferer(False, ["http://*.good.com", "https://good.org"],
                                       black_referers=["http://bad.good.com"]))
    get = lambda ref: anon(ossd, b.bucket_name, "pic.png", headers={"Referer": ref} if ref else {})
    r = get(None)
    assert (r.status_code, error_fields(r)["Code"]) == (403, "AccessDenied")
    assert "referer" in error_fields(r)["Message"]
    assert get("http://www.good.com").status_code == 200
    assert get("http://www.good.com?from=x").status_code == 200, "AllowTruncateQueryString defaults to true"
    assert get("https://good.org").status_code == 200
    assert get("http://bad.good.com").status_code == 403
    assert get("http://evil.com").status_code == 403
    # Presigned URLs are judged too; signed header requests are not.
    url = b.sign_url("GET", "pic.png", 300)
    assert requests.get(url, headers={"Referer": "http://evil.com"}, timeout=30).status_code == 403
    assert requests.get(url, headers={"Referer": "http://a.good.com"}, timeout=30).status_code == 200
    assert b.get_object("pic.png", headers={"Referer": "http://evil.com"}).read() == b"png"
    b.put_bucket_referer(BucketReferer(True, ["http://a.com/p"], allow_truncate_query_string=False))
    assert get(None).status_code == 200
    assert get("http://a.com/p").status_code == 200
    assert get("http://a.com/p?q=1").status_code == 403


def test_static_website(ossd):
    c = v2_client(ossd)
    name = unique_bucket("site")
    c.put_bucket(oss.PutBucketRequest(bucket=name, acl="public-read"))
    for key, body in [("index.html", b"root index"), ("docs/index.html", b"docs index"),
                      ("err.html", b"not here"), ("a.txt", b"a")]:
        c.put_object(oss.PutObjectRequest(bucket=name, key=key, body=body))
    c.put_bucket_website(oss.PutBucketWebsiteRequest(bucket=name, website_configuration=oss.WebsiteConfiguration(
        index_document=oss.IndexDocument(suffix="index.html", support_sub_dir=True, type=0),
        error_document=oss.ErrorDocument(key="err.html", http_status=404))))
    r = anon(ossd, name)
    assert (r.status_code, r.content) == (200, b"root index")
    r = anon(ossd, name, "docs/")
    assert (r.status_code, r.content) == (200, b"docs index")
    r = anon(ossd, name, "missing.html")
    assert (r.status_code, r.content) == (404, b"not here")
    assert anon(ossd, name, "a.txt").content == b"a"
    # Signed requests still list and answer NoSuchKey.
    assert c.list_objects(oss.ListObjectsRequest(bucket=name)).contents
    expect_v2(lambda: c.get_object(oss.GetObjectRequest(bucket=name, key="missing.html")), 404, "NoSuchKey")
    # Without SupportSubDir, a directory address serves the root index.
    c.put_bucket_website(oss.PutBucketWebsiteRequest(bucket=name, website_configuration=oss.WebsiteConfiguration(
        index_document=oss.IndexDocument(suffix="index.html", support_sub_dir=False))))
    assert anon(ossd, name, "docs/").content == b"root index"
    assert anon(ossd, name, "missing.html").status_code == 404


@pytest.fixture
def lifecycle_ossd(tmp_path_factory):
    server = OssdServer(tmp_path_factory.mktemp("ossd-lifecycle") / "data", extra_args=["--lifecycle-day-secs", "1"])
    try:
        server.start()
    except ServerStartError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


def test_lifecycle_worker_expires_and_aborts(lifecycle_ossd):
    b = oss2_bucket(lifecycle_ossd, unique_bucket("life"))
    b.create_bucket()
    b.put_object("tmp/a", b"a")
    b.put_object("tmp/tagged", b"t", headers={"x-oss-tagging": "kind=scratch"})
    b.put_object("keep/b", b"b")
    b.put_object("tagged/keep", b"k", headers={"x-oss-tagging": "kind=gold"})
    b.put_object("tagged/go", b"g", headers={"x-oss-tagging": "kind=scratch"})
    b.put_object("dated/x", b"x")
    b.put_object("warm/x", b"w")
    upload = b.init_multipart_upload("tmp/big").upload_id
    old = LifecycleRule("old", "tmp/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=5),
                        abort_multipart_upload=AbortMultipartUpload(days=5))
    scratch = LifecycleRule("scratch", "tagged/", status=LifecycleRule.ENABLED,
                            expiration=LifecycleExpiration(days=2), tagging=Tagging(_rule({"kind": "scratch"})))
    past = LifecycleRule("past", "keep/", status=LifecycleRule.DISABLED,
                         expiration=LifecycleExpiration(created_before_date=__import__("datetime").date(2030, 1, 1)))
    dated = LifecycleRule("dated", "dated/", status=LifecycleRule.ENABLED,
                          expiration=LifecycleExpiration(created_before_date=__import__("datetime").date(2030, 1, 1)))
    cool = LifecycleRule("cool", "warm/", status=LifecycleRule.ENABLED,
                         storage_transitions=[StorageTransition(days=3, storage_class=oss2.BUCKET_STORAGE_CLASS_IA)])
    b.put_bucket_lifecycle(BucketLifecycle([old, scratch, past, dated, cool]))
    # Five one-second days have not passed yet: tmp/ is still there (dated/ may already go).
    time.sleep(1.5)
    assert b.object_exists("tmp/a") and b.object_exists("keep/b")
    assert b.head_object("warm/x").headers.get("x-oss-storage-class", "Standard") == "Standard"
    deadline = time.time() + 30
    keys = warm = None
    while time.time() < deadline:
        keys = sorted(o.key for o in oss2.ObjectIterator(b))
        warm = b.head_object("warm/x").headers.get("x-oss-storage-class")
        if keys == ["keep/b", "tagged/keep", "warm/x"] and warm == "IA":
            break
        time.sleep(0.5)
    assert keys == ["keep/b", "tagged/keep", "warm/x"]
    assert warm == "IA", "the Transition moved warm/x to IA"
    assert b.get_object("warm/x").read() == b"w"
    assert [u.upload_id for u in oss2.MultipartUploadIterator(b)] == []
    expect_oss2(lambda: b.get_object("tmp/a"), 404, "NoSuchKey")


def _rule(tags):
    r = TaggingRule()
    for k, v in tags.items():
        r.add(k, v)
    return r


def test_list_object_versions_without_versioning(bucket):
    for k in ["a", "b", "c/d", "e"]:
        bucket.put_object(k, k.encode())
    page = bucket.list_object_versions(max_keys=2)
    assert [(v.key, v.versionid, v.is_latest) for v in page.versions] == [("a", "null", True), ("b", "null", True)]
    assert (page.is_truncated, page.next_key_marker, page.next_versionid_marker) == (True, "b", "null")
    rest = bucket.list_object_versions(key_marker="b", versionid_marker="null", delimiter="/")
    assert [v.key for v in rest.versions] == ["e"] and rest.common_prefix == ["c/"]
    assert rest.is_truncated is False


def test_list_object_versions_v2_paginator(ossd):
    c = v2_client(ossd)
    name = unique_bucket("v2ver")
    c.put_bucket(oss.PutBucketRequest(bucket=name))
    for i in range(5):
        c.put_object(oss.PutObjectRequest(bucket=name, key=f"k{i}", body=b"x"))
    seen = []
    for page in c.list_object_versions_paginator().iter_page(oss.ListObjectVersionsRequest(bucket=name, max_keys=2)):
        seen += [(v.key, v.version_id, v.is_latest) for v in page.version]
    assert seen == [(f"k{i}", "null", True) for i in range(5)]


def test_storage_capacity_is_a_quota(bucket):
    bucket.put_object("before", b"x")
    bucket.set_bucket_storage_capacity(BucketUserQos(0))
    e = expect_oss2(lambda: bucket.put_object("after", b"y"), 403, "BucketStorageCapacityExceeded")
    assert e.details["Code"] == "BucketStorageCapacityExceeded"
    bucket.set_bucket_storage_capacity(BucketUserQos(1))
    bucket.put_object("after", b"y")
    bucket.set_bucket_storage_capacity(BucketUserQos(-1))
    bucket.put_object("unlimited", b"z")


# ---------------------------------------------------------------------------
# what GetBucketInfo, GetBucketStat and ListBuckets show

def test_bucket_info_and_stat_show_the_settings(bucket):
    info = bucket.get_bucket_info()
    assert info.resource_group_id.startswith("rg-") and len(info.resource_group_id) > 3
    assert info.transfer_acceleration == "Disabled" and info.versioning_status is None
    bucket.put_bucket_transfer_acceleration("true")
    bucket.put_bucket_logging(BucketLogging(bucket.bucket_name, "access/"))
    info = bucket.get_bucket_info()
    assert info.transfer_acceleration == "Enabled"
    assert info.bucket_encryption_rule is not None
    bucket.put_object("one", b"12345")
    bucket.put_object("two", b"678")
    bucket.put_object("cool", b"ab", headers={"x-oss-storage-class": "IA"})
    bucket.init_multipart_upload("mp")
    stat = bucket.get_bucket_stat()
    assert (stat.storage_size_in_bytes, stat.object_count, stat.multi_part_upload_count) == (10, 3, 1)
    assert stat.standard_storage == 8 and stat.standard_object_count == 2
    assert (stat.infrequent_access_storage, stat.infrequent_access_object_count) == (2, 1)
    assert abs(stat.last_modified_time - time.time()) < 300


def test_list_buckets_by_tag_and_resource_group(ossd):
    service = oss2.Service(oss2.Auth(ossd.ak, ossd.sk), ossd.endpoint)
    prefix = unique_bucket("lbt")
    names = [f"{prefix}-{i}" for i in range(3)]
    for i, n in enumerate(names):
        headers = {"x-oss-resource-group-id": "rg-team42"} if i == 2 else None
        b = oss2_bucket(ossd, n)
        b.create_bucket(headers=headers) if headers else b.create_bucket()
        rule = TaggingRule()
        rule.add("env", "prod" if i < 2 else "dev")
        b.put_bucket_tagging(Tagging(rule))
    got = [b.name for b in service.list_buckets(prefix=prefix, params={"tag-key": "env", "tag-value": "prod"}).buckets]
    assert got == names[:2]
    got = [b.name for b in service.list_buckets(prefix=prefix, params={"tag-key": "env"}).buckets]
    assert got == names
    page = service.list_buckets(prefix=prefix, max_keys=1, params={"tag-key": "env", "tag-value": "prod"})
    assert [b.name for b in page.buckets] == names[:1] and page.is_truncated
    r = raw_request(ossd.endpoint, "GET", headers={"x-oss-resource-group-id": "rg-team42"},
                    query={"prefix": prefix}, ak=ossd.ak, sk=ossd.sk)
    assert r.status_code == 200 and names[2] in r.text and names[0] not in r.text
    assert "<ResourceGroupId>rg-team42</ResourceGroupId>" in r.text
    assert oss2_bucket(ossd, names[2]).get_bucket_info().resource_group_id == "rg-team42"


def test_cors_errors_name_the_argument(bucket):
    rule = oss2.models.CorsRule(allowed_origins=["*"], allowed_methods=["FETCH"], max_age_seconds=10)
    e = expect_oss2(lambda: bucket.put_bucket_cors(oss2.models.BucketCors([rule])), 400, "InvalidArgument")
    assert (e.details.get("ArgumentName"), e.details.get("ArgumentValue")) == ("AllowedMethod", "FETCH")


def test_cors_methods_keep_their_case(bucket):
    """AllowedMethod is answered as it was written; matching ignores case, and the preflight's
    Access-Control-Allow-Methods is upper case (browsers compare it byte for byte)."""
    rule = oss2.models.CorsRule(allowed_origins=["http://app.example"], allowed_methods=["get", "Put"],
                                allowed_headers=["*"], max_age_seconds=10)
    bucket.put_bucket_cors(oss2.models.BucketCors([rule]))
    assert bucket.get_bucket_cors().rules[0].allowed_methods == ["get", "Put"]
    url = f"{bucket.endpoint}/{bucket.bucket_name}/k"
    r = requests.options(url, headers={"Origin": "http://app.example", "Access-Control-Request-Method": "PUT"},
                         timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    r = requests.options(url, headers={"Origin": "http://app.example", "Access-Control-Request-Method": "DELETE"},
                         timeout=30)
    assert r.status_code == 403, r.text


def test_null_version_id_names_the_object(bucket):
    bucket.put_object("v", b"the object")
    assert bucket.get_object("v", params={"versionId": "null"}).read() == b"the object"
    expect_oss2(lambda: bucket.get_object("v", params={"versionId": "CAEQNhiBgIDmgPf8mxgiIDA2"}), 501, "NotImplemented")


def test_put_bucket_keeps_storage_class_and_redundancy(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("cls"), auth_version)
    b.create_bucket(input=oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA, oss2.BUCKET_DATA_REDUNDANCY_TYPE_ZRS))
    info = b.get_bucket_info()
    assert (info.storage_class, info.data_redundancy_type) == ("IA", "ZRS")
    from conftest import oss2_service
    listed = [x for x in oss2.BucketIterator(oss2_service(ossd, auth_version), prefix=b.bucket_name)]
    assert [x.storage_class for x in listed] == ["IA"]
