"""alibabacloud-oss-v2 (1.4.1) against a real ossd.

Each test runs four times: signature V4 (the SDK default) and V1, on
http://127.0.0.1:PORT (path style chosen by the SDK for an IP) and on
http://localhost:PORT with use_path_style=True.
"""

import datetime
import os
import time
import uuid

import pytest
import requests

import alibabacloud_oss_v2 as oss

from conftest import v2_client
from ossd_helpers import REGION, b64md5, crc64, md5_etag, unique_bucket

LOCATION = "oss-" + REGION


def v2_error(fn, request, status, code):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        fn(request)
    se = ei.value.unwrap()
    assert isinstance(se, oss.exceptions.ServiceError), repr(ei.value)
    if code is None:
        assert se.status_code == status, repr(se)
    else:
        assert (se.status_code, se.code) == (status, code), repr(se)
    assert se.request_id, repr(se)
    return se


def unq(etag):
    return etag.strip('"') if etag else etag


def test_v2_bucket_operations(v2):
    prefix = f"v2b-{uuid.uuid4().hex[:10]}-"
    names = [prefix + s for s in ("a", "b", "c")]
    for n in names:
        r = v2.put_bucket(oss.PutBucketRequest(bucket=n, acl="public-read"))
        assert r.status_code == 200
    v2_error(v2.put_bucket, oss.PutBucketRequest(bucket=names[0]), 409, "BucketAlreadyExists")

    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=names[0])).bucket_info
    assert info.name == names[0]
    assert info.acl == "public-read"
    assert info.location == LOCATION
    assert info.storage_class == "Standard"
    assert v2.get_bucket_location(oss.GetBucketLocationRequest(bucket=names[0])).location == LOCATION
    assert v2.get_bucket_acl(oss.GetBucketAclRequest(bucket=names[0])).acl == "public-read"
    v2.put_bucket_acl(oss.PutBucketAclRequest(bucket=names[0], acl="private"))
    assert v2.get_bucket_acl(oss.GetBucketAclRequest(bucket=names[0])).acl == "private"

    r = v2.list_buckets(oss.ListBucketsRequest(prefix=prefix))
    assert [b.name for b in r.buckets] == names
    r = v2.list_buckets(oss.ListBucketsRequest(prefix=prefix, max_keys=2))
    assert [b.name for b in r.buckets] == names[:2]
    assert r.is_truncated and r.next_marker == names[1]
    pages = list(v2.list_buckets_paginator(limit=1).iter_page(oss.ListBucketsRequest(prefix=prefix)))
    assert [b.name for p in pages for b in p.buckets] == names
    assert len(pages) == 3

    v2.put_object(oss.PutObjectRequest(bucket=names[2], key="k", body=b"x"))
    v2_error(v2.delete_bucket, oss.DeleteBucketRequest(bucket=names[2]), 409, "BucketNotEmpty")
    v2.delete_object(oss.DeleteObjectRequest(bucket=names[2], key="k"))
    assert v2.delete_bucket(oss.DeleteBucketRequest(bucket=names[2])).status_code == 204
    assert not v2.is_bucket_exist(names[2])
    assert v2.is_bucket_exist(names[0])
    v2_error(v2.get_bucket_info, oss.GetBucketInfoRequest(bucket=names[2]), 404, "NoSuchBucket")


def test_v2_put_get_head(v2, v2_bucket):
    key = "v2/hello world+ü%.txt"
    data = os.urandom(3000)
    r = v2.put_object(oss.PutObjectRequest(
        bucket=v2_bucket, key=key, body=data, metadata={"author": "bob", "x": "1"},
        content_type="text/plain", cache_control="no-cache",
        content_disposition='inline; filename="h.txt"', expires="Wed, 21 Oct 2015 07:28:00 GMT"))
    assert r.status_code == 200
    assert unq(r.etag) == md5_etag(data)
    assert r.hash_crc64 == str(crc64(data))
    assert r.content_md5 == b64md5(data)
    assert r.request_id

    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key=key))
    assert g.body.content == data
    assert g.status_code == 200
    assert g.content_length == len(data)
    assert unq(g.etag) == md5_etag(data)
    assert g.hash_crc64 == str(crc64(data))
    assert g.metadata == {"author": "bob", "x": "1"}
    assert g.content_type == "text/plain"
    assert g.cache_control == "no-cache"
    assert g.content_disposition == 'inline; filename="h.txt"'
    assert g.expires == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert g.object_type == "Normal"

    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key=key))
    assert h.content_length == len(data)
    assert unq(h.etag) == md5_etag(data)
    assert h.metadata == {"author": "bob", "x": "1"}
    assert h.hash_crc64 == str(crc64(data))
    assert h.storage_class == "Standard"

    m = v2.get_object_meta(oss.GetObjectMetaRequest(bucket=v2_bucket, key=key))
    assert m.content_length == len(data)
    assert unq(m.etag) == md5_etag(data)

    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key=key, range_header="bytes=100-199"))
    assert g.status_code == 206
    assert g.body.content == data[100:200]
    assert g.content_range == f"bytes 100-199/{len(data)}"

    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key=key, range_header="bytes=-5"))
    assert g.body.content == data[-5:]

    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key=key,
                                           response_content_type="application/x-v2"))
    assert g.content_type == "application/x-v2"
    assert g.body.content == data

    etag = f'"{md5_etag(data)}"'
    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key=key, if_match=etag))
    assert g.body.content == data
    v2_error(v2.get_object, oss.GetObjectRequest(bucket=v2_bucket, key=key, if_match='"00"'),
             412, "PreconditionFailed")
    v2_error(v2.get_object, oss.GetObjectRequest(bucket=v2_bucket, key=key, if_none_match=etag),
             304, None)

    assert v2.is_object_exist(v2_bucket, key)
    assert not v2.is_object_exist(v2_bucket, key + "-missing")


def test_v2_content_md5_and_forbid_overwrite(v2, v2_bucket):
    v2_error(v2.put_object, oss.PutObjectRequest(bucket=v2_bucket, key="m", body=b"abc",
                                                 content_md5=b64md5(b"abd")),
             400, "InvalidDigest")
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="m", body=b"abc", content_md5=b64md5(b"abc")))
    v2_error(v2.put_object, oss.PutObjectRequest(bucket=v2_bucket, key="m", body=b"new",
                                                 forbid_overwrite=True),
             409, "FileAlreadyExists")
    assert v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="m")).body.content == b"abc"


def test_v2_errors(ossd, v2, v2_bucket):
    se = v2_error(v2.get_object, oss.GetObjectRequest(bucket=v2_bucket, key="nope"), 404, "NoSuchKey")
    assert se.message
    v2_error(v2.head_object, oss.HeadObjectRequest(bucket=v2_bucket, key="nope"), 404, None)
    missing = unique_bucket("gone")
    v2_error(v2.get_object, oss.GetObjectRequest(bucket=missing, key="k"), 404, "NoSuchBucket")
    v2_error(v2.list_objects_v2, oss.ListObjectsV2Request(bucket=missing), 404, "NoSuchBucket")


@pytest.mark.parametrize("sigver,style", [("v4", "ip"), ("v1", "ip"), ("v4", "localhost"), ("v1", "localhost")])
def test_v2_bad_credentials(ossd, sigver, style):
    good = v2_client(ossd, sigver, style)
    name = unique_bucket("cred")
    good.put_bucket(oss.PutBucketRequest(bucket=name))
    bad_secret = v2_client(ossd, sigver, style, sk=ossd.sk + "x")
    v2_error(bad_secret.list_objects_v2, oss.ListObjectsV2Request(bucket=name), 403, "SignatureDoesNotMatch")
    v2_error(bad_secret.put_object, oss.PutObjectRequest(bucket=name, key="k", body=b"x"),
             403, "SignatureDoesNotMatch")
    bad_id = v2_client(ossd, sigver, style, ak="LTAInobodyHasThisKey00")
    v2_error(bad_id.list_objects_v2, oss.ListObjectsV2Request(bucket=name), 403, "InvalidAccessKeyId")


KEYS = ["a/1", "a/2", "b/1", "c d", "e+f", "g%h", "ü/文件"]


def test_v2_list_objects_v2_and_paginator(v2, v2_bucket):
    for k in KEYS:
        v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key=k, body=k.encode()))
    expected = sorted(KEYS, key=lambda k: k.encode())

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket))
    assert [o.key for o in r.contents] == expected
    assert r.key_count == len(KEYS)
    assert not r.is_truncated
    for o in r.contents:
        assert o.size == len(o.key.encode())
        assert unq(o.etag) == md5_etag(o.key.encode())
        assert o.owner is None

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, max_keys=3))
    assert [o.key for o in r.contents] == expected[:3]
    assert r.is_truncated and r.key_count == 3
    r2 = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, max_keys=3,
                                                     continuation_token=r.next_continuation_token))
    assert [o.key for o in r2.contents] == expected[3:6]

    pages = list(v2.list_objects_v2_paginator(limit=2).iter_page(oss.ListObjectsV2Request(bucket=v2_bucket)))
    assert [o.key for p in pages for o in p.contents] == expected
    assert len(pages) == 4
    assert [p.key_count for p in pages] == [2, 2, 2, 1]

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, start_after="b/1"))
    assert [o.key for o in r.contents] == [k for k in expected if k.encode() > b"b/1"]

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, delimiter="/", fetch_owner=True))
    assert [p.prefix for p in r.common_prefixes] == ["a/", "b/", "ü/"]
    assert [o.key for o in r.contents] == ["c d", "e+f", "g%h"]
    assert all(o.owner is not None and o.owner.id for o in r.contents)
    assert r.key_count == 6

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, prefix="ü/"))
    assert [o.key for o in r.contents] == ["ü/文件"]
    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, prefix="c d"))
    assert [o.key for o in r.contents] == ["c d"]
    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket, prefix="e+"))
    assert [o.key for o in r.contents] == ["e+f"]

    pages = list(v2.list_objects_paginator(limit=3).iter_page(oss.ListObjectsRequest(bucket=v2_bucket)))
    assert [o.key for p in pages for o in p.contents] == expected


def test_v2_delete_and_delete_multiple(v2, v2_bucket):
    for k in KEYS:
        v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key=k, body=b"d"))
    assert v2.delete_object(oss.DeleteObjectRequest(bucket=v2_bucket, key="a/1")).status_code == 204
    assert v2.delete_object(oss.DeleteObjectRequest(bucket=v2_bucket, key="a/1")).status_code == 204

    r = v2.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
        bucket=v2_bucket, objects=[oss.DeleteObject(key=k) for k in ["a/2", "c d", "e+f"]]))
    assert sorted(d.key for d in r.deleted_objects) == ["a/2", "c d", "e+f"]

    r = v2.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
        bucket=v2_bucket, quiet=True, objects=[oss.DeleteObject(key=k) for k in ["b/1", "g%h", "ü/文件"]]))
    assert not r.deleted_objects
    left = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket))
    assert not left.contents
    assert left.key_count == 0


def test_v2_copy(v2, v2_bucket):
    data = b"copy me via v2"
    src = "src/ü +.bin"
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key=src, body=data, metadata={"a": "1"},
                                       content_type="application/x-src"))
    r = v2.copy_object(oss.CopyObjectRequest(bucket=v2_bucket, key="dst", source_bucket=v2_bucket,
                                             source_key=src))
    assert r.status_code == 200
    assert unq(r.etag) == md5_etag(data)
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="dst"))
    assert h.metadata == {"a": "1"} and h.content_type == "application/x-src"

    v2.copy_object(oss.CopyObjectRequest(bucket=v2_bucket, key="dst2", source_bucket=v2_bucket,
                                         source_key=src, metadata_directive="REPLACE",
                                         metadata={"b": "2"}, content_type="text/plain"))
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="dst2"))
    assert h.metadata == {"b": "2"} and h.content_type == "text/plain"
    assert v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="dst2")).body.content == data

    v2_error(v2.copy_object, oss.CopyObjectRequest(bucket=v2_bucket, key="dst3", source_bucket=v2_bucket,
                                                   source_key=src, if_match='"00"'),
             412, "PreconditionFailed")
    v2_error(v2.copy_object, oss.CopyObjectRequest(bucket=v2_bucket, key="dst3", source_bucket=v2_bucket,
                                                   source_key="missing"),
             404, "NoSuchKey")


def test_v2_append(v2, v2_bucket):
    r = v2.append_object(oss.AppendObjectRequest(bucket=v2_bucket, key="ap", position=0, body=b"12345"))
    assert r.next_position == 5
    assert r.hash_crc64 == str(crc64(b"12345"))
    r = v2.append_object(oss.AppendObjectRequest(bucket=v2_bucket, key="ap", position=5, body=b"678"))
    assert r.next_position == 8
    assert r.hash_crc64 == str(crc64(b"12345678"))
    se = v2_error(v2.append_object, oss.AppendObjectRequest(bucket=v2_bucket, key="ap", position=2, body=b"x"),
                  409, "PositionNotEqualToLength")
    assert se.headers.get("x-oss-next-append-position") == "8"
    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="ap"))
    assert g.body.content == b"12345678"
    assert g.object_type == "Appendable"
    assert g.next_append_position == "8" or g.next_append_position == 8


def test_v2_acl_and_tagging(v2, v2_bucket):
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="t", body=b"t", tagging="a=1&b=2"))
    assert v2.get_object_acl(oss.GetObjectAclRequest(bucket=v2_bucket, key="t")).acl == "default"
    v2.put_object_acl(oss.PutObjectAclRequest(bucket=v2_bucket, key="t", acl="public-read"))
    assert v2.get_object_acl(oss.GetObjectAclRequest(bucket=v2_bucket, key="t")).acl == "public-read"

    tags = v2.get_object_tagging(oss.GetObjectTaggingRequest(bucket=v2_bucket, key="t")).tag_set.tags
    assert {t.key: t.value for t in tags} == {"a": "1", "b": "2"}
    v2.put_object_tagging(oss.PutObjectTaggingRequest(bucket=v2_bucket, key="t", tagging=oss.Tagging(
        tag_set=oss.TagSet(tags=[oss.Tag(key="k", value="v w")]))))
    tags = v2.get_object_tagging(oss.GetObjectTaggingRequest(bucket=v2_bucket, key="t")).tag_set.tags
    assert {t.key: t.value for t in tags} == {"k": "v w"}
    assert v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="t")).tagging_count == 1
    v2.delete_object_tagging(oss.DeleteObjectTaggingRequest(bucket=v2_bucket, key="t"))
    tags = v2.get_object_tagging(oss.GetObjectTaggingRequest(bucket=v2_bucket, key="t")).tag_set
    assert not (tags and tags.tags)


def test_v2_presign(v2, v2_bucket):
    key = "ps/a b+ü.txt"
    data = b"presigned via v2"
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key=key, body=data))

    p = v2.presign(oss.GetObjectRequest(bucket=v2_bucket, key=key), expires=datetime.timedelta(minutes=5))
    assert p.method == "GET"
    r = requests.get(p.url, headers=p.signed_headers or {})
    assert r.status_code == 200, r.text
    assert r.content == data

    body = os.urandom(777)
    p = v2.presign(oss.PutObjectRequest(bucket=v2_bucket, key="ps/up.bin", content_type="application/x-up"),
                   expires=datetime.timedelta(minutes=5))
    assert p.method == "PUT"
    r = requests.put(p.url, data=body, headers=p.signed_headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{md5_etag(body)}"'
    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="ps/up.bin"))
    assert g.body.content == body and g.content_type == "application/x-up"

    p = v2.presign(oss.HeadObjectRequest(bucket=v2_bucket, key=key))
    r = requests.head(p.url, headers=p.signed_headers or {})
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)

    # a presigned GET for one key does not work for another
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="ps/other", body=b"o"))
    p = v2.presign(oss.GetObjectRequest(bucket=v2_bucket, key="ps/one"))
    r = requests.get(p.url.replace("ps/one", "ps/other"))
    assert r.status_code == 403, r.text


def test_v2_large_object_crc(v2, v2_bucket):
    data = os.urandom(6 * 1024 * 1024 + 123)
    r = v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="big", body=data))
    assert r.hash_crc64 == str(crc64(data))
    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="big"))
    got = b"".join(g.body.iter_bytes())
    assert len(got) == len(data) and got == data
    assert g.hash_crc64 == str(crc64(data))
