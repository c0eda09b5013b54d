"""STS temporary credentials against a real ossd configured with roles.

Credentials come from ossd's AssumeRole endpoint, through Alibaba's Python STS SDK
(aliyun-python-sdk-sts, pinned in tests/sdk/python/requirements.txt) and through requests signed
by an independent RPC signer written here; they are then used with oss2.StsAuth (V1, V4,
presigned URLs) and alibabacloud-oss-v2 inside and outside the role's and the session's
policies.
"""

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import requests

import alibabacloud_oss_v2 as oss
import oss2

from ossd_helpers import REGION, OssdServer, ServerStartError, ossd_binary, unique_bucket

ACCOUNT = "1234567890123456"


def arn(name):
    return f"acs:ram::{ACCOUNT}:role/{name}"


def config_text(bucket, secret):
    role_policy = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["oss:PutObject", "oss:GetObject", "oss:ListObjects", "oss:DeleteObject"],
             "Resource": [f"acs:oss:*:*:{bucket}", f"acs:oss:*:*:{bucket}/*"]},
            {"Effect": "Deny", "Action": "oss:PutObject", "Resource": f"acs:oss:*:*:{bucket}/readonly/*"},
        ],
    }
    lines = ["[sts]"]
    if secret:
        lines.append(f'secret = "{secret}"')
    lines += [
        "min_duration_seconds = 1",
        "",
        "[[sts.roles]]",
        'name = "writer"',
        f'arn = "{arn("writer")}"',
        "max_duration_seconds = 7200",
        f"policy = '''{json.dumps(role_policy)}'''",
        "",
    ]
    return "\n".join(lines)


class Env:
    """The configured server, its buckets and config."""

    def __init__(self, tmp, secret="py-sts-" + secrets.token_hex(12)):
        self.tmp = tmp
        self.secret = secret
        self.bucket = unique_bucket("sts")
        self.other = unique_bucket("sts-o")
        self.config = tmp / "ossd.toml"
        self.config.write_text(config_text(self.bucket, secret))
        self.server = self.start(tmp / "data")
        root = oss2.Bucket(oss2.Auth(self.server.ak, self.server.sk), self.server.endpoint, self.bucket)
        root.create_bucket()
        root.put_object("readonly/r.txt", b"read me")
        other = oss2.Bucket(oss2.Auth(self.server.ak, self.server.sk), self.server.endpoint, self.other)
        other.create_bucket()
        other.put_object("o.txt", b"other")

    def start(self, data_dir, ak=None, sk=None, extra=()):
        server = OssdServer(data_dir, ak=ak, sk=sk, extra_args=["--config", str(self.config), *extra])
        try:
            server.start()
        except ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        return server


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("ossd-sts"))
    yield e
    e.server.stop()


# ---------------------------------------------------------------------------
# An independent RPC signer (Alibaba POP signature 1.0, HMAC-SHA1)

def pop_encode(s):
    return quote(str(s), safe="-_.~")


def rpc_call(server, params, ak=None, sk=None, method="POST"):
    """AssumeRole by hand: form POST (or GET with a query), signed here."""
    p = {
        "Action": "AssumeRole",
        "Version": "2015-04-01",
        "AccessKeyId": ak or server.ak,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **params,
    }
    canonical = "&".join(f"{pop_encode(k)}={pop_encode(v)}" for k, v in sorted(p.items()))
    string_to_sign = f"{method}&%2F&{pop_encode(canonical)}"
    key = ((sk or server.sk) + "&").encode()
    p["Signature"] = base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()).decode()
    if method == "POST":
        return requests.post(server.ip_endpoint + "/", data=p, timeout=30)
    return requests.get(server.ip_endpoint + "/", params=p, timeout=30)


def assume(server, role="writer", policy=None, duration=900, session="py-test"):
    params = {"RoleArn": arn(role), "RoleSessionName": session, "DurationSeconds": duration, "Format": "JSON"}
    if policy is not None:
        params["Policy"] = json.dumps(policy)
    r = rpc_call(server, params)
    assert r.status_code == 200, r.text
    return r.json()["Credentials"]


def sts_bucket(server, creds, name, version="v1"):
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"],
                        auth_version=version)
    kw = {"region": REGION} if version == "v4" else {}
    return oss2.Bucket(auth, server.endpoint, name, connect_timeout=60, **kw)


def denied(call, code="AccessDenied", status=403):
    with pytest.raises(oss2.exceptions.OssError) as ei:
        call()
    assert (ei.value.status, ei.value.code) == (status, code), ei.value
    return ei.value


# ---------------------------------------------------------------------------
# The Python STS SDK

def test_python_sts_sdk_assume_role(env):
    # Imported here so that a missing SDK fails this test only.
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

    def request(role=arn("writer"), duration=1200, policy=None):
        req = AssumeRoleRequest()
        req.set_endpoint("127.0.0.1")
        req.set_protocol_type("http")
        req.set_RoleArn(role)
        req.set_RoleSessionName("sdk-session")
        req.set_DurationSeconds(duration)
        if policy:
            req.set_Policy(json.dumps(policy))
        return req

    client = AcsClient(env.server.ak, env.server.sk, REGION, port=env.server.port, auto_retry=False)
    started = time.time()
    answer = json.loads(client.do_action_with_exception(request()))
    assert answer["AssumedRoleUser"]["Arn"] == arn("writer") + "/sdk-session"
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":sdk-session")
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    expires = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert 1190 <= expires.timestamp() - started <= 1210

    b = sts_bucket(env.server, creds, env.bucket)
    b.put_object("sdk/a.txt", b"from the STS SDK")
    assert b.get_object("sdk/a.txt").read() == b"from the STS SDK"

    cases = [
        (AcsClient(env.server.ak, "wrong", REGION, port=env.server.port, auto_retry=False), request(),
         "InvalidAccessKeySecret", 400),  # the SDK's name for SignatureDoesNotMatch with our string to sign
        (AcsClient("LTAInobody", "x", REGION, port=env.server.port, auto_retry=False), request(),
         "InvalidAccessKeyId.NotFound", 404),
        (client, request(role=arn("nobody")), "EntityNotExist.Role", 404),
        (client, request(duration=7201), "InvalidParameter.DurationSeconds", 400),
        (client, request(policy={"Version": "1", "Statement": [{"Effect": "Allow"}]}),
         "InvalidParameter.PolicyGrammar", 400),
    ]
    for c, req, code, status in cases:
        with pytest.raises(ServerException) as ei:
            c.do_action_with_exception(req)
        assert (ei.value.get_error_code(), ei.value.get_http_status()) == (code, status), ei.value


# ---------------------------------------------------------------------------
# Hand-signed AssumeRole: both transports and formats, the error shapes

def test_rpc_get_and_xml_answers(env):
    r = rpc_call(env.server, {"RoleArn": arn("writer"), "RoleSessionName": "get-xml"}, method="GET")
    assert r.status_code == 200, r.text
    assert "xml" in r.headers["content-type"]
    assert "<AssumeRoleResponse>" in r.text and "<SecurityToken>" in r.text
    r = rpc_call(env.server, {"RoleArn": arn("writer"), "RoleSessionName": "a b", "Format": "JSON"})
    assert r.status_code == 400
    body = r.json()
    assert body["Code"] == "InvalidParameter.RoleSessionName"
    assert {"RequestId", "HostId", "Message"} <= set(body)
    r = rpc_call(env.server, {"RoleSessionName": "x", "Format": "JSON"})
    assert (r.status_code, r.json()["Code"]) == (400, "MissingParameter")
    r = rpc_call(env.server, {"RoleArn": arn("writer"), "RoleSessionName": "x", "Timestamp": "2001-01-01T00:00:00Z",
                              "Format": "JSON"})
    assert (r.status_code, r.json()["Code"]) == (400, "InvalidTimeStamp.Expired")
    r = rpc_call(env.server, {"Action": "GetFederationToken", "Format": "JSON"})
    assert (r.status_code, r.json()["Code"]) == (404, "InvalidAction.NotFound")


# ---------------------------------------------------------------------------
# Temporary credentials with oss2 (V1 and V4) and alibabacloud-oss-v2

@pytest.mark.parametrize("version", ["v1", "v4"])
def test_oss2_within_and_outside_the_role(env, version):
    creds = assume(env.server)
    b = sts_bucket(env.server, creds, env.bucket, version)
    key = f"{version}/in.txt"
    assert b.put_object(key, b"inside").status == 200
    assert b.get_object(key).read() == b"inside"
    assert b.head_object(key).content_length == 6
    assert [o.key for o in b.list_objects(prefix=f"{version}/").object_list] == [key]
    assert [o.key for o in b.list_objects_v2(prefix=f"{version}/").object_list] == [key]
    # Explicit Deny in the role policy.
    e = denied(lambda: b.put_object("readonly/x", b"x"))
    assert e.ec == "0003-00000201"
    assert b.get_object("readonly/r.txt").read() == b"read me"
    # Another bucket, another action.
    other = sts_bucket(env.server, creds, env.other, version)
    e = denied(lambda: other.get_object("o.txt"))
    assert "authorized by RAM" in e.message
    denied(lambda: other.put_object("x", b"x"))
    denied(lambda: b.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ))
    denied(lambda: b.put_object_acl(key, oss2.OBJECT_ACL_PUBLIC_READ))
    # Copy needs GetObject on the source too.
    denied(lambda: b.copy_object(env.other, "o.txt", f"{version}/copied.txt"))
    b.copy_object(env.bucket, key, f"{version}/copied.txt")
    # A batch delete needs DeleteObject on every key; the role denies none of them.
    result = b.batch_delete_objects([key, f"{version}/copied.txt"])
    assert sorted(result.deleted_keys) == sorted([key, f"{version}/copied.txt"])


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_oss2_session_policy_narrows(env, version):
    d = f"{version}-{secrets.token_hex(3)}"
    policy = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"],
             "Resource": f"acs:oss:*:*:{env.bucket}/{d}/*"},
            {"Effect": "Allow", "Action": "oss:ListObjects", "Resource": f"acs:oss:*:*:{env.bucket}",
             "Condition": {"StringLike": {"oss:Prefix": f"{d}/*"}}},
            {"Effect": "Allow", "Action": "oss:*", "Resource": f"acs:oss:*:*:{env.other}/*"},
        ],
    }
    creds = assume(env.server, policy=policy)
    b = sts_bucket(env.server, creds, env.bucket, version)
    b.put_object(f"{d}/a", b"a")
    assert b.get_object(f"{d}/a").read() == b"a"
    assert [o.key for o in b.list_objects(prefix=f"{d}/").object_list] == [f"{d}/a"]
    e = denied(lambda: b.put_object("outside", b"x"))
    assert e.message == "Access denied by authorizer's policy."
    assert e.ec == "0003-00000301"
    denied(lambda: b.list_objects(prefix="other/"))
    denied(lambda: b.delete_object(f"{d}/a"))
    # The session policy cannot widen the role: bucket `other` stays out of reach.
    denied(lambda: sts_bucket(env.server, creds, env.other, version).get_object("o.txt"))
    # A batch delete is refused when a Deny may match one of its keys or no Allow covers all.
    denied(lambda: b.batch_delete_objects([f"{d}/a"]))


def test_oss2_presigned_urls_carry_the_token(env):
    creds = assume(env.server)
    for version in ("v1", "v4"):
        b = sts_bucket(env.server, creds, env.bucket, version)
        b.put_object(f"presign-{version}.txt", b"presigned")
        url = b.sign_url("GET", f"presign-{version}.txt", 300)
        assert ("security-token=" in url) if version == "v1" else ("x-oss-security-token=" in url), url
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, r.text
        assert r.content == b"presigned"
        outside = sts_bucket(env.server, creds, env.other, version).sign_url("GET", "o.txt", 300)
        r = requests.get(outside, timeout=30)
        assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content


def test_v2_sdk_with_security_token(env):
    creds = assume(env.server)
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    cfg.region = REGION
    cfg.endpoint = env.server.ip_endpoint
    cfg.retry_max_attempts = 1
    client = oss.Client(cfg)
    client.put_object(oss.PutObjectRequest(bucket=env.bucket, key="v2/a.txt", body=b"v2"))
    got = client.get_object(oss.GetObjectRequest(bucket=env.bucket, key="v2/a.txt"))
    assert got.body.read() == b"v2"
    with pytest.raises(oss.exceptions.OperationError) as ei:
        client.get_object(oss.GetObjectRequest(bucket=env.other, key="o.txt"))
    se = ei.value.unwrap()
    assert (se.status_code, se.code) == (403, "AccessDenied")


def test_tampered_expired_and_misused_tokens(env):
    creds = assume(env.server)
    payload, sig = creds["SecurityToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 86400
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = dict(creds, SecurityToken=f"{forged_payload}.{sig}")
    e = denied(lambda: sts_bucket(env.server, forged, env.bucket).get_object("readonly/r.txt"),
               "InvalidAccessKeyId")
    assert e.details.get("SecurityToken") == "The security token you provided is invalid."
    root_with_token = dict(creds, AccessKeyId=env.server.ak, AccessKeySecret=env.server.sk)
    denied(lambda: sts_bucket(env.server, root_with_token, env.bucket).get_object("readonly/r.txt"),
           "InvalidAccessKeyId")
    short = assume(env.server, duration=1)
    b = sts_bucket(env.server, short, env.bucket, "v4")
    b.get_object("readonly/r.txt")
    time.sleep(2.1)
    denied(lambda: b.get_object("readonly/r.txt"), "SecurityTokenExpired")


def test_restart_and_a_second_node(env, tmp_path):
    creds = assume(env.server, duration=3600)
    env.server.restart()
    b = sts_bucket(env.server, creds, env.bucket)
    assert b.get_object("readonly/r.txt").read() == b"read me"

    second = env.start(tmp_path / "node2", ak=env.server.ak, sk=env.server.sk)
    try:
        oss2.Bucket(oss2.Auth(second.ak, second.sk), second.endpoint, env.bucket).create_bucket()
        b2 = sts_bucket(second, creds, env.bucket, "v4")
        b2.put_object("n2.txt", b"second node")
        assert b2.get_object("n2.txt").read() == b"second node"
    finally:
        second.stop()

    foreign = env.start(tmp_path / "node3", ak=env.server.ak, sk=env.server.sk,
                        extra=["--sts-secret", "a-different-secret-" + secrets.token_hex(4)])
    try:
        oss2.Bucket(oss2.Auth(foreign.ak, foreign.sk), foreign.endpoint, env.bucket).create_bucket()
        denied(lambda: sts_bucket(foreign, creds, env.bucket).get_object("x"), "InvalidAccessKeyId")
    finally:
        foreign.stop()


def test_cli_assume_role_offline(env, tmp_path):
    out = subprocess.run(
        [str(ossd_binary()), "sts", "assume-role", "--role", "writer", "--config", str(env.config),
         "--data", str(tmp_path / "cli-data"), "--duration", "900", "--session", "cli"],
        check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"}).stdout
    answer = json.loads(out)
    assert answer["AssumedRoleUser"]["Arn"] == arn("writer") + "/cli"
    b = sts_bucket(env.server, answer["Credentials"], env.bucket)
    assert b.get_object("readonly/r.txt").read() == b"read me"
    r = subprocess.run(
        [str(ossd_binary()), "sts", "assume-role", "--role", "nobody", "--config", str(env.config)],
        capture_output=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and b"no role" in r.stderr


# ---------------------------------------------------------------------------
# Per-object checks inside handlers: DeleteMultipleObjects and PostObject

def test_batch_delete_is_judged_per_key(env):
    # The session policy allows deleting only under `mine/`: a batch within it works, a batch
    # that names one key outside it is refused as a whole and deletes nothing.
    session = {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"], "Resource": f"acs:oss:*:*:{env.bucket}/*"},
        {"Effect": "Allow", "Action": "oss:DeleteObject", "Resource": f"acs:oss:*:*:{env.bucket}/mine/*"},
    ]}
    creds = assume(env.server, policy=session)
    b = sts_bucket(env.server, creds, env.bucket)
    for k in ("mine/a", "mine/b", "theirs/c"):
        b.put_object(k, b"x")
    denied(lambda: b.batch_delete_objects(["mine/a", "theirs/c"]))
    assert b.object_exists("mine/a") and b.object_exists("theirs/c")
    assert sorted(b.batch_delete_objects(["mine/a", "mine/b"]).deleted_keys) == ["mine/a", "mine/b"]
    assert not b.object_exists("mine/a")


def post_form(server, bucket, creds, key):
    policy = base64.b64encode(json.dumps({
        "expiration": "2099-01-01T00:00:00.000Z",
        "conditions": [{"bucket": bucket}, ["content-length-range", 0, 1024]],
    }).encode()).decode()
    signature = base64.b64encode(hmac.new(creds["AccessKeySecret"].encode(), policy.encode(), hashlib.sha1).digest()).decode()
    fields = {"key": key, "OSSAccessKeyId": creds["AccessKeyId"], "policy": policy, "Signature": signature,
              "x-oss-security-token": creds["SecurityToken"], "success_action_status": "200"}
    return requests.post(f"{server.ip_endpoint}/{bucket}/", data=fields, files={"file": ("f.txt", b"posted")},
                         timeout=30)


def test_post_object_with_a_token_obeys_the_policies(env):
    creds = assume(env.server)
    r = post_form(env.server, env.bucket, creds, "posted/ok.txt")
    assert r.status_code == 200, r.text
    root = oss2.Bucket(oss2.Auth(env.server.ak, env.server.sk), env.server.endpoint, env.bucket)
    assert root.get_object("posted/ok.txt").read() == b"posted"
    # The role denies PutObject under readonly/, and grants nothing on the other bucket.
    for bucket, key in ((env.bucket, "readonly/no.txt"), (env.other, "no.txt")):
        r = post_form(env.server, bucket, creds, key)
        assert r.status_code == 403, r.text
        assert "<Code>AccessDenied</Code>" in r.text
    assert not root.object_exists("readonly/no.txt")
