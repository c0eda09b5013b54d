"""oss2 (Python V1 SDK, 2.19.1) against a real ossd.

Every value asserted here is computed in the test (MD5, CRC-64, contents)
or comes from shared/spec/oss-api.md; nothing is copied from server output.
Most tests run twice: oss2.Auth (V1 signature) and oss2.AuthV4.
"""

import concurrent.futures
import datetime
import hashlib
import os
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
import requests

import oss2
import oss2.auth
import oss2.utils
import oss2.xml_utils
from oss2.exceptions import ServerError

from conftest import oss2_bucket, oss2_service
from ossd_helpers import (
    REGION, b64md5, crc64, error_fields, http_date, md5_etag, raw_request, unique_bucket,
    v1_signature, v1_string_to_sign,
)

LOCATION = "oss-" + REGION


def expect_error(fn, status, code, *args, **kwargs):
    """Run an SDK call that must fail; check the HTTP status and the OSS error code."""
    with pytest.raises(ServerError) as ei:
        fn(*args, **kwargs)
    e = ei.value
    if code is None:  # HEAD / 304: no body, only the status is defined
        assert e.status == status, f"expected HTTP {status}, got {e}"
    else:
        assert (e.status, e.code) == (status, code), f"expected {status} {code}, got {e}"
    assert e.request_id, f"no x-oss-request-id on error response: {e}"
    return e


def anon_url(server, bucket_name, key=None):
    url = f"{server.endpoint}/{bucket_name}/"
    if key is not None:
        url += quote(key, safe="")
    return url


def keys_of(result):
    return [o.key for o in result.object_list]


# ---------------------------------------------------------------------------
# Offline checks of the test's own tools (so that the tools can be trusted)

def test_hand_v1_signer_matches_documented_example():
    sts = v1_string_to_sign(
        "PUT", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=", "text/html",
        "Thu, 17 Nov 2005 18:49:58 GMT",
        {"X-OSS-Meta-Author": "foo@bar.com", "X-OSS-Magic": "abracadabra"},
        "/oss-example/nelson")
    assert v1_signature("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV", sts) == \
        "26NBxoKdsyly4EDv6inkoDft/yA="


def test_crc64_check_value():
    assert crc64(b"123456789") == 11051210869376104954


# ---------------------------------------------------------------------------
# Buckets

@pytest.mark.parametrize("acl", [oss2.BUCKET_ACL_PRIVATE, oss2.BUCKET_ACL_PUBLIC_READ,
                                 oss2.BUCKET_ACL_PUBLIC_READ_WRITE])
def test_create_bucket_with_acl_and_info(ossd, auth_version, acl):
    name = unique_bucket("acl")
    b = oss2_bucket(ossd, name, auth_version)
    r = b.create_bucket(acl)
    assert r.status == 200
    assert b.get_bucket_acl().acl == acl
    info = b.get_bucket_info()
    assert info.name == name
    assert info.acl.grant == acl
    assert info.location == LOCATION
    assert info.storage_class == "Standard"
    assert info.creation_date
    assert b.get_bucket_location().location == LOCATION


def test_create_existing_bucket_conflicts(bucket):
    expect_error(bucket.create_bucket, 409, "BucketAlreadyExists")


@pytest.mark.parametrize("name", ["Bad_Name", "ab", "-abc", "abc-", "a" * 64, "a_b_c"])
def test_invalid_bucket_name(ossd, name):
    # oss2 refuses such names client-side, so sign the PutBucket by hand.
    r = raw_request(ossd.endpoint, "PUT", bucket=name, ak=ossd.ak, sk=ossd.sk)
    assert r.status_code == 400, r.text
    assert error_fields(r)["Code"] == "InvalidBucketName"


def test_list_buckets_prefix_marker_maxkeys(ossd, auth_version, service):
    prefix = f"lb-{uuid.uuid4().hex[:10]}-"
    names = [prefix + s for s in ("a", "b", "c")]
    for n in reversed(names):
        oss2_bucket(ossd, n, auth_version).create_bucket()

    r = service.list_buckets(prefix=prefix)
    assert [b.name for b in r.buckets] == names
    assert not r.is_truncated
    for b in r.buckets:
        assert b.location == LOCATION
        assert b.creation_date

    r1 = service.list_buckets(prefix=prefix, max_keys=2)
    assert [b.name for b in r1.buckets] == names[:2]
    assert r1.is_truncated
    assert r1.next_marker == names[1]
    r2 = service.list_buckets(prefix=prefix, marker=r1.next_marker, max_keys=2)
    assert [b.name for b in r2.buckets] == names[2:]
    assert not r2.is_truncated

    r3 = service.list_buckets(prefix=prefix, marker=names[0])
    assert [b.name for b in r3.buckets] == names[1:]

    assert [b.name for b in oss2.BucketIterator(service, prefix=prefix, max_keys=1)] == names
    everything = [b.name for b in oss2.BucketIterator(service, max_keys=1000)]
    assert set(names) <= set(everything)
    assert everything == sorted(everything)


def test_bucket_acl_put_get(bucket):
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE
    for acl in (oss2.BUCKET_ACL_PUBLIC_READ, oss2.BUCKET_ACL_PUBLIC_READ_WRITE,
                oss2.BUCKET_ACL_PRIVATE):
        assert bucket.put_bucket_acl(acl).status == 200
        assert bucket.get_bucket_acl().acl == acl
        assert bucket.get_bucket_info().acl.grant == acl


def test_put_bucket_acl_invalid_value(ossd, bucket_v1):
    r = raw_request(ossd.endpoint, "PUT", bucket=bucket_v1.bucket_name, query={"acl": ""},
                    headers={"x-oss-acl": "world-writable"}, ak=ossd.ak, sk=ossd.sk)
    assert r.status_code == 400, r.text
    assert bucket_v1.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE


def test_delete_bucket(bucket):
    bucket.put_object("k", b"x")
    expect_error(bucket.delete_bucket, 409, "BucketNotEmpty")
    bucket.delete_object("k")
    r = bucket.delete_bucket()
    assert r.status == 204
    expect_error(bucket.get_bucket_info, 404, "NoSuchBucket")
    expect_error(bucket.delete_bucket, 404, "NoSuchBucket")


def test_no_such_bucket(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("missing"), auth_version)
    expect_error(b.get_object, 404, "NoSuchBucket", "k")
    expect_error(b.put_object, 404, "NoSuchBucket", "k", b"data")
    expect_error(b.list_objects, 404, "NoSuchBucket")
    expect_error(b.get_bucket_acl, 404, "NoSuchBucket")
    expect_error(b.head_object, 404, None, "k")


# ---------------------------------------------------------------------------
# Objects: put / get / head

def test_put_get_head_roundtrip(bucket):
    key = "docs/hello.txt"
    data = b"hello, ossd \x00\xff" * 100
    headers = {
        "x-oss-meta-author": "alice",
        "x-oss-meta-Mixed-Case": "Value With Spaces",
        "Cache-Control": "max-age=3600, must-revalidate",
        "Content-Disposition": 'attachment; filename="hello.txt"',
        "Content-Encoding": "identity",
        "Expires": "Wed, 21 Oct 2015 07:28:00 GMT",
        "Content-Language": "en-GB",
    }
    put = bucket.put_object(key, data, headers=headers)
    assert put.status == 200
    assert put.request_id
    assert put.etag == md5_etag(data)
    assert put.crc == crc64(data), "x-oss-hash-crc64ecma missing or wrong on PutObject"
    assert put.headers.get("Content-MD5") == b64md5(data)

    head = bucket.head_object(key)
    assert head.status == 200
    assert head.content_type == "text/plain"
    assert head.content_length == len(data)
    assert head.etag == md5_etag(data)
    assert head.object_type == "Normal"
    assert head.server_crc == crc64(data)
    assert head.headers["x-oss-meta-author"] == "alice"
    assert head.headers["x-oss-meta-mixed-case"] == "Value With Spaces"
    assert head.headers["x-oss-storage-class"] == "Standard"
    assert abs(head.last_modified - time.time()) < 300
    for h in ("Cache-Control", "Content-Disposition", "Content-Encoding", "Expires",
              "Content-Language"):
        assert head.headers.get(h) == headers[h], h

    got = bucket.get_object(key)
    body = got.read()
    assert body == data
    assert got.status == 200
    assert got.etag == md5_etag(data)
    assert got.client_crc == got.server_crc == crc64(data)
    assert got.headers.get("Accept-Ranges") == "bytes"
    assert got.headers["x-oss-meta-author"] == "alice"
    for h in ("Cache-Control", "Content-Disposition", "Content-Encoding", "Expires"):
        assert got.headers.get(h) == headers[h], h
    assert got.headers["x-oss-request-id"]


def test_empty_object(bucket):
    put = bucket.put_object("empty", b"")
    assert put.etag == md5_etag(b"")
    assert put.crc == 0
    got = bucket.get_object("empty")
    assert got.read() == b""
    assert got.content_length == 0


def test_overwrite_replaces_content_and_meta(bucket):
    bucket.put_object("ow", b"first", headers={"x-oss-meta-v": "1"})
    bucket.put_object("ow", b"second!", headers={"x-oss-meta-w": "2"})
    got = bucket.get_object("ow")
    assert got.read() == b"second!"
    assert got.etag == md5_etag(b"second!")
    assert "x-oss-meta-v" not in got.headers
    assert got.headers["x-oss-meta-w"] == "2"


@pytest.mark.parametrize("key,expected", [
    ("a.txt", "text/plain"), ("pic.jpg", "image/jpeg"), ("page.html", "text/html"),
    ("x.png", "image/png"), ("d.json", "application/json")])
def test_content_type_from_extension_via_sdk(bucket, key, expected):
    # oss2 guesses the type from the extension; the server must store what it sent.
    assert oss2.utils.content_type_by_name(key) == expected
    bucket.put_object(key, b"x")
    assert bucket.head_object(key).content_type == expected
    assert bucket.get_object(key).headers["Content-Type"] == expected


def test_content_type_explicit(bucket):
    bucket.put_object("a.txt", b"x", headers={"Content-Type": "application/x-custom"})
    assert bucket.head_object("a.txt").content_type == "application/x-custom"


@pytest.mark.parametrize("key,expected", [
    ("server-guess.txt", "application/octet-stream"), ("server-guess.jpg", "application/octet-stream"),
    ("no-extension", "application/octet-stream")])
def test_content_type_absent_server_default(ossd, bucket_v1, key, expected):
    # No Content-Type at all on the wire: OSS stores application/octet-stream whatever the
    # key's extension (the SDKs guess on the client side; the server does not).
    r = raw_request(ossd.endpoint, "PUT", bucket=bucket_v1.bucket_name, key=key, body=b"abc",
                    ak=ossd.ak, sk=ossd.sk)
    assert r.status_code == 200, r.text
    assert "Content-Type" not in r.request.headers
    assert bucket_v1.head_object(key).content_type == expected


def test_content_md5(bucket):
    data = b"checked payload"
    r = bucket.put_object("md5-ok", data, headers={"Content-MD5": b64md5(data)})
    assert r.etag == md5_etag(data)
    expect_error(bucket.put_object, 400, "InvalidDigest", "md5-bad", data,
                 headers={"Content-MD5": b64md5(b"something else")})
    expect_error(bucket.head_object, 404, None, "md5-bad")


def test_range_get(bucket):
    data = bytes(range(256)) * 4
    n = len(data)
    bucket.put_object("r.bin", data)

    g = bucket.get_object("r.bin", byte_range=(10, 19))
    assert g.status == 206
    assert g.read() == data[10:20]
    assert g.content_range == f"bytes 10-19/{n}"
    assert g.headers["Content-Length"] == "10"

    g = bucket.get_object("r.bin", byte_range=(None, 5))  # bytes=-5
    assert g.status == 206
    assert g.read() == data[-5:]
    assert g.content_range == f"bytes {n - 5}-{n - 1}/{n}"

    g = bucket.get_object("r.bin", byte_range=(1000, None))  # bytes=1000-
    assert g.status == 206
    assert g.read() == data[1000:]
    assert g.content_range == f"bytes 1000-{n - 1}/{n}"

    g = bucket.get_object("r.bin", byte_range=(1000, 5000))  # end past EOF is clamped
    assert g.status == 206
    assert g.read() == data[1000:]
    assert g.content_range == f"bytes 1000-{n - 1}/{n}"

    # With the opt-in x-oss-range-behavior: standard, an unsatisfiable range is 416 InvalidRange.
    expect_error(bucket.get_object, 416, "InvalidRange", "r.bin", byte_range=(5000, 6000),
                 headers={"x-oss-range-behavior": "standard"})

    # Without it, an unsatisfiable range is ignored (oss-api.md, GetObject): 200, whole object.
    g = bucket.get_object("r.bin", byte_range=(5000, 6000))
    assert g.status == 200
    assert g.read() == data
    assert g.content_range is None


def test_conditional_get(bucket):
    data = b"conditional"
    bucket.put_object("c", data)
    head = bucket.head_object("c")
    etag = '"%s"' % md5_etag(data)
    lm = head.last_modified

    assert bucket.get_object("c", headers={"If-Match": etag}).read() == data
    expect_error(bucket.get_object, 412, "PreconditionFailed", "c",
                 headers={"If-Match": '"0123456789ABCDEF0123456789ABCDEF"'})
    expect_error(bucket.get_object, 304, None, "c", headers={"If-None-Match": etag})
    assert bucket.get_object("c", headers={"If-None-Match": '"00"'}).read() == data
    expect_error(bucket.get_object, 304, None, "c", headers={"If-Modified-Since": http_date(lm)})
    expect_error(bucket.get_object, 304, None, "c",
                 headers={"If-Modified-Since": http_date(lm + 3600)})
    assert bucket.get_object("c", headers={"If-Modified-Since": http_date(lm - 86400)}).read() == data
    expect_error(bucket.get_object, 412, "PreconditionFailed", "c",
                 headers={"If-Unmodified-Since": http_date(lm - 86400)})
    assert bucket.get_object("c", headers={"If-Unmodified-Since": http_date(lm + 86400)}).read() == data
    # HEAD honours the same headers (no body: only the status).
    expect_error(bucket.head_object, 412, None, "c", headers={"If-Match": '"00"'})
    expect_error(bucket.head_object, 304, None, "c", headers={"If-None-Match": etag})


def test_response_header_overrides(bucket):
    bucket.put_object("o.txt", b"override me")
    params = {
        "response-content-type": "application/x-override",
        "response-content-disposition": 'attachment; filename="x.bin"',
        "response-cache-control": "no-store",
        "response-content-language": "fr",
        "response-expires": "Thu, 01 Dec 1994 16:00:00 GMT",
        "response-content-encoding": "identity",
    }
    g = bucket.get_object("o.txt", params=params)
    assert g.read() == b"override me"
    assert g.headers["Content-Type"] == "application/x-override"
    assert g.headers["Content-Disposition"] == 'attachment; filename="x.bin"'
    assert g.headers["Cache-Control"] == "no-store"
    assert g.headers["Content-Language"] == "fr"
    assert g.headers["Expires"] == "Thu, 01 Dec 1994 16:00:00 GMT"
    assert g.headers["Content-Encoding"] == "identity"
    # the stored type is unchanged
    assert bucket.head_object("o.txt").content_type == "text/plain"


def test_get_object_meta(bucket):
    data = b"meta only" * 7
    bucket.put_object("m", data)
    m = bucket.get_object_meta("m")
    assert m.status == 200
    assert m.etag == md5_etag(data)
    assert m.content_length == len(data)
    assert abs(m.last_modified - time.time()) < 300
    assert "x-oss-last-access-time" in m.headers
    expect_error(bucket.get_object_meta, 404, None, "nope")
    assert bucket.object_exists("m")
    assert not bucket.object_exists("nope")


def test_delete_object(bucket):
    bucket.put_object("d", b"x")
    assert bucket.delete_object("d").status == 204
    expect_error(bucket.get_object, 404, "NoSuchKey", "d")
    assert bucket.delete_object("never-existed").status == 204


def test_no_such_key(bucket):
    e = expect_error(bucket.get_object, 404, "NoSuchKey", "missing/key")
    assert e.details.get("RequestId") == e.request_id
    assert e.message
    expect_error(bucket.head_object, 404, None, "missing/key")


BATCH_KEYS = ["plain", "with space", "plus+sign", "pct%20literal", "ünïcødé/文件.txt",
              "amp&lt<gt>", "dir/sub/deep"]


def test_batch_delete(bucket):
    for k in BATCH_KEYS:
        bucket.put_object(k, k.encode())
    r = bucket.batch_delete_objects(BATCH_KEYS)
    assert r.status == 200
    assert sorted(r.deleted_keys) == sorted(BATCH_KEYS)
    assert keys_of(bucket.list_objects()) == []
    # deleting keys that do not exist is not an error
    r = bucket.batch_delete_objects(["ghost-1", "ghost 2"])
    assert r.status == 200


def test_batch_delete_quiet(bucket):
    for k in BATCH_KEYS:
        bucket.put_object(k, b"q")
    body = oss2.xml_utils.to_batch_delete_objects_request(BATCH_KEYS, True)
    resp = bucket._do("POST", bucket.bucket_name, "", data=body,
                      params={"delete": "", "encoding-type": "url"},
                      headers={"Content-MD5": b64md5(body)})
    assert resp.status == 200
    root = ET.fromstring(resp.read())
    assert root.tag == "DeleteResult"
    assert root.findall("Deleted") == []
    assert keys_of(bucket.list_objects()) == []


def test_copy_object(ossd, auth_version, bucket):
    data = b"copy source payload"
    src = "src dir/ü+%.txt"
    bucket.put_object(src, data, headers={"x-oss-meta-a": "1", "Content-Type": "text/x-src"})

    r = bucket.copy_object(bucket.bucket_name, src, "dst-copy")
    assert r.status == 200
    h = bucket.head_object("dst-copy")
    assert h.etag == md5_etag(data)
    assert h.headers["x-oss-meta-a"] == "1"
    assert h.content_type == "text/x-src"
    assert bucket.get_object("dst-copy").read() == data

    bucket.copy_object(bucket.bucket_name, src, "dst-replace", headers={
        "x-oss-metadata-directive": "REPLACE", "x-oss-meta-b": "2",
        "Content-Type": "application/x-new"})
    h = bucket.head_object("dst-replace")
    assert h.headers["x-oss-meta-b"] == "2"
    assert "x-oss-meta-a" not in h.headers
    assert h.content_type == "application/x-new"
    assert h.etag == md5_etag(data)

    # metadata update in place
    bucket.copy_object(bucket.bucket_name, src, src, headers={
        "x-oss-metadata-directive": "REPLACE", "x-oss-meta-c": "3"})
    h = bucket.head_object(src)
    assert h.headers["x-oss-meta-c"] == "3" and "x-oss-meta-a" not in h.headers
    assert bucket.get_object(src).read() == data

    # across buckets
    other = oss2_bucket(ossd, unique_bucket("cp"), auth_version)
    other.create_bucket()
    other.copy_object(bucket.bucket_name, src, "from-other")
    assert other.get_object("from-other").read() == data

    etag = '"%s"' % md5_etag(data)
    bucket.copy_object(bucket.bucket_name, src, "dst-if", headers={"x-oss-copy-source-if-match": etag})
    assert bucket.get_object("dst-if").read() == data
    expect_error(bucket.copy_object, 412, "PreconditionFailed", bucket.bucket_name, src, "dst-if2",
                 headers={"x-oss-copy-source-if-match": '"0123456789ABCDEF0123456789ABCDEF"'})
    expect_error(bucket.head_object, 404, None, "dst-if2")
    expect_error(bucket.copy_object, 404, "NoSuchKey", bucket.bucket_name, "no-source", "dst-x")


def test_append_object(bucket):
    p1, p2 = b"hello ", b"world"
    r1 = bucket.append_object("ap", 0, p1, init_crc=0)
    assert r1.next_position == len(p1)
    assert r1.crc == crc64(p1)
    r2 = bucket.append_object("ap", r1.next_position, p2, init_crc=r1.crc)
    assert r2.next_position == len(p1 + p2)
    assert r2.crc == crc64(p1 + p2)

    e = expect_error(bucket.append_object, 409, "PositionNotEqualToLength", "ap", 3, b"zz")
    assert e.next_position == len(p1 + p2)

    g = bucket.get_object("ap")
    assert g.read() == p1 + p2
    h = bucket.head_object("ap")
    assert h.object_type == "Appendable"
    assert h.headers["x-oss-next-append-position"] == str(len(p1 + p2))
    assert h.server_crc == crc64(p1 + p2)

    bucket.put_object("normal", b"n")
    expect_error(bucket.append_object, 409, "ObjectNotAppendable", "normal", 1, b"x")


def test_object_acl(ossd, bucket):
    bucket.put_object("acl-obj", b"acl")
    assert bucket.get_object_acl("acl-obj").acl == oss2.OBJECT_ACL_DEFAULT
    anon = anon_url(ossd, bucket.bucket_name, "acl-obj")
    assert requests.get(anon).status_code == 403

    bucket.put_object_acl("acl-obj", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("acl-obj").acl == oss2.OBJECT_ACL_PUBLIC_READ
    r = requests.get(anon)
    assert r.status_code == 200 and r.content == b"acl"

    bucket.put_object_acl("acl-obj", oss2.OBJECT_ACL_PRIVATE)
    assert bucket.get_object_acl("acl-obj").acl == oss2.OBJECT_ACL_PRIVATE
    assert requests.get(anon).status_code == 403

    bucket.put_object("acl-hdr", b"h", headers={"x-oss-object-acl": "public-read"})
    assert bucket.get_object_acl("acl-hdr").acl == "public-read"
    expect_error(bucket.put_object_acl, 404, "NoSuchKey", "nope", oss2.OBJECT_ACL_PRIVATE)


def test_object_tagging(bucket):
    bucket.put_object("tg", b"t", headers={"x-oss-tagging": "a=1&b=two%20words"})
    assert bucket.get_object_tagging("tg").tag_set.tagging_rule == {"a": "1", "b": "two words"}
    assert bucket.head_object("tg").headers.get("x-oss-tagging-count") == "2"

    rule = oss2.models.TaggingRule()
    rule.add("k", "v")
    rule.add("project", "ossd tests")
    assert bucket.put_object_tagging("tg", oss2.models.Tagging(rule)).status == 200
    assert bucket.get_object_tagging("tg").tag_set.tagging_rule == {"k": "v", "project": "ossd tests"}

    assert bucket.delete_object_tagging("tg").status == 204
    assert bucket.get_object_tagging("tg").tag_set.tagging_rule == {}
    assert bucket.get_object("tg").read() == b"t"


def test_forbid_overwrite(bucket):
    bucket.put_object("fo", b"original")
    expect_error(bucket.put_object, 409, "FileAlreadyExists", "fo", b"new",
                 headers={"x-oss-forbid-overwrite": "true"})
    assert bucket.get_object("fo").read() == b"original"
    bucket.put_object("fo", b"new", headers={"x-oss-forbid-overwrite": "false"})
    assert bucket.get_object("fo").read() == b"new"
    bucket.put_object("fo-new", b"fresh", headers={"x-oss-forbid-overwrite": "true"})
    assert bucket.get_object("fo-new").read() == b"fresh"


# ---------------------------------------------------------------------------
# Keys

SPECIAL_KEYS = ["a/b c+d%e", "../../etc/passwd", "unicode/文件名-ü.txt", "emoji-😀", "x?y=z&w",
                "#hash", "~tilde", "dir//double", "trailing/", "semi;colon", "quote\"s'"]


def test_special_keys(ossd, bucket):
    for i, k in enumerate(SPECIAL_KEYS):
        data = f"{i}:{k}".encode()
        r = bucket.put_object(k, data)
        assert r.etag == md5_etag(data), k
        assert bucket.get_object(k).read() == data, k
        assert bucket.head_object(k).content_length == len(data), k
    assert sorted(keys_of(bucket.list_objects(max_keys=100))) == sorted(SPECIAL_KEYS)
    assert sorted(o.key for o in oss2.ObjectIteratorV2(bucket)) == sorted(SPECIAL_KEYS)
    # no file escaped the data directory
    assert not (ossd.data_dir.parent / "etc").exists()
    for k in SPECIAL_KEYS:
        bucket.delete_object(k)
    assert keys_of(bucket.list_objects()) == []


def test_key_length_limits(bucket):
    ok_keys = ["a" * 1023, "中" * 341]  # 1023 bytes each
    for k in ok_keys:
        assert len(k.encode()) == 1023
        bucket.put_object(k, b"ok")
        assert bucket.get_object(k).read() == b"ok"
    for k in ["a" * 1024, "中" * 341 + "a"]:  # 1024 bytes
        assert len(k.encode()) == 1024
        expect_error(bucket.put_object, 400, "InvalidObjectName", k, b"too long")


@pytest.mark.parametrize("key", ["/leading-slash", "\\leading-backslash"])
def test_invalid_object_names(bucket, key):
    expect_error(bucket.put_object, 400, "InvalidObjectName", key, b"x")


# ---------------------------------------------------------------------------
# Listing

LIST_KEYS = ["a/1", "a/2", "b/1", "c", "d", "e"]


def _fill(bucket, keys):
    for k in keys:
        bucket.put_object(k, k.encode())


def test_list_objects_v1(bucket):
    _fill(bucket, LIST_KEYS)
    r = bucket.list_objects()
    assert keys_of(r) == LIST_KEYS
    assert not r.is_truncated
    for o in r.object_list:
        assert o.size == len(o.key)
        assert o.etag == md5_etag(o.key.encode())
        assert o.type == "Normal"
        assert o.storage_class == "Standard"
        assert abs(o.last_modified - time.time()) < 300

    r = bucket.list_objects(delimiter="/")
    assert r.prefix_list == ["a/", "b/"]
    assert keys_of(r) == ["c", "d", "e"]

    r = bucket.list_objects(prefix="a/")
    assert keys_of(r) == ["a/1", "a/2"]
    assert r.prefix_list == []

    r = bucket.list_objects(prefix="zzz")
    assert keys_of(r) == [] and r.prefix_list == []

    seen, marker, pages = [], "", 0
    while True:
        r = bucket.list_objects(marker=marker, max_keys=2)
        pages += 1
        assert len(r.object_list) <= 2
        seen += keys_of(r)
        if not r.is_truncated:
            break
        assert r.next_marker == seen[-1]
        marker = r.next_marker
    assert seen == LIST_KEYS
    assert pages == 3

    r = bucket.list_objects(marker="b/1")
    assert keys_of(r) == ["c", "d", "e"]


def test_list_prefix_with_space_and_plus(bucket):
    # oss2 hands query parameters to requests, which form-encodes a space as "+"
    # and a literal "+" as "%2B": the server must decode the query accordingly.
    keys = ["dir with space/1", "dir with space/2", "dir+plus/1", "dir%pct/1", "dirwithspace/x"]
    _fill(bucket, keys)
    assert keys_of(bucket.list_objects(prefix="dir with space/")) == keys[:2]
    assert keys_of(bucket.list_objects(prefix="dir+plus/")) == ["dir+plus/1"]
    assert keys_of(bucket.list_objects(prefix="dir%pct/")) == ["dir%pct/1"]
    assert keys_of(bucket.list_objects_v2(prefix="dir with space/")) == keys[:2]
    assert keys_of(bucket.list_objects_v2(start_after="dir with space/1", prefix="dir with")) == [keys[1]]
    r = bucket.list_objects(delimiter="/", prefix="dir")
    assert r.prefix_list == ["dir with space/", "dir%pct/", "dir+plus/", "dirwithspace/"]


def test_object_iterator_many_keys(bucket_v1):
    keys = [f"it/{i:04d}" for i in range(250)]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda k: bucket_v1.put_object(k, b""), keys))
    bucket_v1.put_object("other", b"")
    assert [o.key for o in oss2.ObjectIterator(bucket_v1, prefix="it/", max_keys=37)] == keys
    assert [o.key for o in oss2.ObjectIteratorV2(bucket_v1, prefix="it/", max_keys=100)] == keys
    assert len(list(oss2.ObjectIterator(bucket_v1))) == 251
    top = list(oss2.ObjectIterator(bucket_v1, delimiter="/"))
    assert [(o.key, o.is_prefix()) for o in top] == [("it/", True), ("other", False)]


def test_list_folders_and_long_runs_of_keys_with_a_delimiter(bucket_v1):
    """More folders and plain keys in a row than the server's first batches under a delimiter
    (it asks for a few rows at a time and seeks past each folder): v1 and v2 pages, whole and
    through the iterators, list each folder and key once, in order."""
    folders = [f"fl/d{i:02d}/" for i in range(14)]
    plain = [f"fl/f{i:02d}" for i in range(21)]
    keys = [f"{d}{n}" for d in folders for n in range(3)] + plain
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda k: bucket_v1.put_object(k, b""), keys))
    r = bucket_v1.list_objects(prefix="fl/", delimiter="/", max_keys=1000)
    assert r.prefix_list == folders and keys_of(r) == plain and not r.is_truncated
    r = bucket_v1.list_objects_v2(prefix="fl/", delimiter="/", max_keys=1000)
    assert r.prefix_list == folders and keys_of(r) == plain and not r.is_truncated
    want = [(f, True) for f in folders] + [(k, False) for k in plain]
    for it in (oss2.ObjectIterator, oss2.ObjectIteratorV2):
        got = [(o.key, o.is_prefix()) for o in it(bucket_v1, prefix="fl/", delimiter="/", max_keys=5)]
        assert got == want, it.__name__


def test_list_objects_v2(bucket):
    _fill(bucket, LIST_KEYS)
    r = bucket.list_objects_v2()
    assert keys_of(r) == LIST_KEYS
    assert not r.is_truncated
    assert all(o.owner is None for o in r.object_list)

    seen, token, pages = [], "", 0
    while True:
        r = bucket.list_objects_v2(continuation_token=token, max_keys=2)
        pages += 1
        seen += keys_of(r)
        if not r.is_truncated:
            break
        assert r.next_continuation_token
        token = r.next_continuation_token
    assert seen == LIST_KEYS and pages == 3

    assert keys_of(bucket.list_objects_v2(start_after="b/1")) == ["c", "d", "e"]
    assert keys_of(bucket.list_objects_v2(start_after="a")) == LIST_KEYS

    r = bucket.list_objects_v2(fetch_owner=True)
    assert all(o.owner is not None and o.owner.id for o in r.object_list)

    r = bucket.list_objects_v2(delimiter="/")
    assert r.prefix_list == ["a/", "b/"]
    assert keys_of(r) == ["c", "d", "e"]

    r = bucket.list_objects_v2(prefix="a/", delimiter="/")
    assert keys_of(r) == ["a/1", "a/2"]


def test_list_v2_encoding_type_url(bucket):
    keys = ["enc/sp ace", "enc/plus+", "enc/pct%41", "enc/ü文", "enc/amp&<>", "enc/bell\x07",
            "enc/d ir/x"]
    for k in keys:
        bucket.put_object(k, b"e")
    r = bucket.list_objects_v2(prefix="enc/")
    assert keys_of(r) == sorted(keys, key=lambda k: k.encode())
    r = bucket.list_objects_v2(prefix="enc/", delimiter="/")
    assert r.prefix_list == ["enc/d ir/"]
    # Keys on both sides of the common prefix: the page joins two batches.
    assert keys_of(r) == sorted((k for k in keys if not k.startswith("enc/d ir/")), key=lambda k: k.encode())
    r = bucket.list_objects_v2(prefix="enc/", start_after="enc/pct%41")
    assert keys_of(r) == sorted((k for k in keys if k.encode() > b"enc/pct%41"),
                                key=lambda k: k.encode())
    r = bucket.list_objects(prefix="enc/")
    assert keys_of(r) == sorted(keys, key=lambda k: k.encode())


def test_list_v2_key_count_raw(bucket_v1):
    _fill(bucket_v1, LIST_KEYS)
    resp = bucket_v1._do("GET", bucket_v1.bucket_name, "",
                         params={"list-type": "2", "max-keys": "4", "delimiter": "/"})
    root = ET.fromstring(resp.read())
    # a/ and b/ count as well as c and d
    assert root.findtext("KeyCount") == "4"
    assert root.findtext("IsTruncated") == "true"
    assert root.findtext("NextContinuationToken")


# ---------------------------------------------------------------------------
# Presigned URLs

def test_presigned_get_and_put(ossd, bucket, auth_version):
    key = "ps/file name+1.txt"
    data = b"presigned content"
    bucket.put_object(key, data)

    url = bucket.sign_url("GET", key, 300)
    assert ("x-oss-signature=" in url) == (auth_version == "v4")
    assert ("OSSAccessKeyId=" in url) == (auth_version == "v1")
    r = requests.get(url)
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["ETag"] == '"%s"' % md5_etag(data)

    url = bucket.sign_url("GET", key, 300, params={"response-content-type": "text/x-presigned"})
    r = requests.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/x-presigned"

    payload = os.urandom(1000)
    url = bucket.sign_url("PUT", "ps/uploaded.bin", 300,
                          headers={"Content-Type": "application/octet-stream"})
    r = requests.put(url, data=payload, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"%s"' % md5_etag(payload)
    assert bucket.get_object("ps/uploaded.bin").read() == payload

    url = bucket.sign_url("PUT", "ps/sdk-put.bin", 300)
    res = bucket.put_object_with_url(url, payload)
    assert res.etag == md5_etag(payload)
    assert res.crc == crc64(payload)

    url = bucket.sign_url("HEAD", key, 300)
    r = requests.head(url)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)


class _HourAgo(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return datetime.datetime.utcnow() - datetime.timedelta(hours=1)


def test_presigned_expired(bucket, auth_version, monkeypatch):
    bucket.put_object("exp", b"x")
    if auth_version == "v1":
        url = bucket.sign_url("GET", "exp", -60)  # Expires one minute ago
    else:
        monkeypatch.setattr(oss2.auth, "datetime", _HourAgo)
        url = bucket.sign_url("GET", "exp", 60)  # x-oss-date an hour ago, valid for 60 s
        monkeypatch.undo()
    r = requests.get(url)
    assert r.status_code == 403, r.text
    assert error_fields(r)["Code"] == "AccessDenied"


def _replace_query_param(url, name, fn):
    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    q = [(k, fn(v) if k == name else v) for k, v in q]
    return urlunsplit(parts._replace(query=urlencode(q, quote_via=quote, safe="")))


def test_presigned_tampered(bucket, auth_version):
    bucket.put_object("tamper", b"x")
    bucket.put_object("other", b"y")
    url = bucket.sign_url("GET", "tamper", 300)
    if auth_version == "v1":
        bad = _replace_query_param(url, "Signature", lambda s: ("A" if s[0] != "A" else "B") + s[1:])
    else:
        bad = _replace_query_param(url, "x-oss-signature", lambda s: ("0" if s[0] != "0" else "1") + s[1:])
    r = requests.get(bad)
    assert r.status_code == 403, r.text
    assert error_fields(r)["Code"] == "SignatureDoesNotMatch"
    # a valid signature for one key does not open another
    r = requests.get(url.replace("/tamper?", "/other?"))
    assert r.status_code == 403, r.text
    assert error_fields(r)["Code"] == "SignatureDoesNotMatch"
    # and a GET URL cannot be used to PUT
    r = requests.put(url, data=b"overwrite")
    assert r.status_code == 403, r.text
    assert bucket.get_object("tamper").read() == b"x"


# ---------------------------------------------------------------------------
# Authentication and anonymous access

def test_wrong_secret(ossd, bucket, auth_version):
    bucket.put_object("k", b"v")
    bad = oss2_bucket(ossd, bucket.bucket_name, auth_version, sk=ossd.sk + "x")
    expect_error(bad.get_object, 403, "SignatureDoesNotMatch", "k")
    expect_error(bad.put_object, 403, "SignatureDoesNotMatch", "k", b"evil")
    expect_error(bad.list_objects, 403, "SignatureDoesNotMatch")
    expect_error(oss2_service(ossd, auth_version, sk="nope").list_buckets, 403, "SignatureDoesNotMatch")
    assert bucket.get_object("k").read() == b"v"


def test_wrong_secret_error_details(ossd, bucket_v1):
    r = raw_request(ossd.endpoint, "GET", bucket=bucket_v1.bucket_name, ak=ossd.ak, sk="wrong")
    assert r.status_code == 403
    f = error_fields(r)
    assert f["Code"] == "SignatureDoesNotMatch"
    assert f.get("OSSAccessKeyId") == ossd.ak
    assert "StringToSign" in f and f["StringToSign"].startswith("GET\n")


def test_unknown_access_key(ossd, bucket, auth_version):
    bad = oss2_bucket(ossd, bucket.bucket_name, auth_version, ak="LTAInobodyHasThisKey00", sk="x")
    expect_error(bad.get_object, 403, "InvalidAccessKeyId", "k")
    expect_error(bad.list_objects, 403, "InvalidAccessKeyId")


def test_hand_signed_request_accepted(ossd, bucket_v1):
    bucket_v1.put_object("hs", b"hand")
    r = raw_request(ossd.endpoint, "GET", bucket=bucket_v1.bucket_name, key="hs", ak=ossd.ak, sk=ossd.sk)
    assert r.status_code == 200, r.text
    assert r.content == b"hand"


@pytest.mark.parametrize("skew", [-20 * 60, 20 * 60])
def test_request_time_too_skewed(ossd, bucket_v1, skew):
    r = raw_request(ossd.endpoint, "GET", bucket=bucket_v1.bucket_name, ak=ossd.ak, sk=ossd.sk,
                    date=http_date(time.time() + skew))
    assert r.status_code == 403, r.text
    assert error_fields(r)["Code"] == "RequestTimeTooSkewed"
    # ten minutes is still inside the 15-minute window
    r = raw_request(ossd.endpoint, "GET", bucket=bucket_v1.bucket_name, ak=ossd.ak, sk=ossd.sk,
                    date=http_date(time.time() + skew / 2))
    assert r.status_code == 200, r.text


def test_sdk_request_time_too_skewed(bucket, auth_version, monkeypatch):
    if auth_version == "v1":
        monkeypatch.setattr(oss2.utils, "http_date", lambda *a: http_date(time.time() - 3600))
    else:
        monkeypatch.setattr(oss2.auth, "datetime", _HourAgo)
    expect_error(bucket.list_objects, 403, "RequestTimeTooSkewed")


def test_missing_date_and_malformed_authorization(ossd, bucket_v1):
    url = f"{ossd.endpoint}/{bucket_v1.bucket_name}/"
    r = requests.get(url, headers={"Authorization": f"OSS {ossd.ak}:AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    assert r.status_code == 403, r.text
    assert error_fields(r)["Code"] == "AccessDenied"
    r = requests.get(url, headers={"Authorization": "OSS garbage", "Date": http_date()})
    assert r.status_code == 400, r.text
    assert error_fields(r)["Code"] == "InvalidArgument"


def test_anonymous_private_bucket(ossd, bucket_v1):
    bucket_v1.put_object("p", b"secret")
    for method, key in (("GET", "p"), ("HEAD", "p"), ("PUT", "p"), ("DELETE", "p"), ("GET", None)):
        r = requests.request(method, anon_url(ossd, bucket_v1.bucket_name, key), data=b"x" if method == "PUT" else None)
        assert r.status_code == 403, (method, key, r.text)
        if method != "HEAD":
            assert error_fields(r)["Code"] == "AccessDenied"
    r = requests.get(ossd.endpoint + "/")
    assert r.status_code == 403
    assert bucket_v1.get_object("p").read() == b"secret"


def test_anonymous_public_read_bucket(ossd, bucket_v1):
    bucket_v1.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    data = b"world readable"
    bucket_v1.put_object("pub.txt", data)
    r = requests.get(anon_url(ossd, bucket_v1.bucket_name, "pub.txt"))
    assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == '"%s"' % md5_etag(data)
    assert requests.head(anon_url(ossd, bucket_v1.bucket_name, "pub.txt")).status_code == 200
    r = requests.put(anon_url(ossd, bucket_v1.bucket_name, "pub.txt"), data=b"vandal")
    assert r.status_code == 403 and error_fields(r)["Code"] == "AccessDenied"
    r = requests.delete(anon_url(ossd, bucket_v1.bucket_name, "pub.txt"))
    assert r.status_code == 403
    assert bucket_v1.get_object("pub.txt").read() == data
    # an object may be stricter than its bucket
    bucket_v1.put_object_acl("pub.txt", oss2.OBJECT_ACL_PRIVATE)
    assert requests.get(anon_url(ossd, bucket_v1.bucket_name, "pub.txt")).status_code == 403


def test_anonymous_public_read_write_bucket(ossd, bucket_v1):
    bucket_v1.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    data = b"anonymous upload"
    r = requests.put(anon_url(ossd, bucket_v1.bucket_name, "anon.bin"), data=data)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"%s"' % md5_etag(data)
    assert bucket_v1.get_object("anon.bin").read() == data
    r = requests.get(anon_url(ossd, bucket_v1.bucket_name, "anon.bin"))
    assert r.status_code == 200 and r.content == data


# ---------------------------------------------------------------------------
# Large and streamed objects

def test_large_object_64mib(bucket_v1, tmp_path):
    size = 64 * 1024 * 1024
    path = tmp_path / "big.bin"
    md5 = hashlib.md5()
    crc = oss2.utils.Crc64(0)
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as f:
        for i in range(64):
            chunk = bytes([i]) + block[1:]
            f.write(chunk)
            md5.update(chunk)
            crc.update(chunk)
    put = bucket_v1.put_object_from_file("big/64m.bin", str(path))
    assert put.etag == md5.hexdigest().upper()
    assert put.crc == crc.crc

    got = bucket_v1.get_object("big/64m.bin")
    assert got.content_length == size
    md5b = hashlib.md5()
    n = 0
    while True:
        chunk = got.read(4 * 1024 * 1024)
        if not chunk:
            break
        md5b.update(chunk)
        n += len(chunk)
    assert n == size
    assert md5b.hexdigest() == md5.hexdigest()
    assert got.client_crc == got.server_crc == crc.crc

    g = bucket_v1.get_object("big/64m.bin", byte_range=(size - 10, None))
    with open(path, "rb") as f:
        f.seek(size - 10)
        assert g.read() == f.read()


def test_chunked_upload_from_generator(bucket_v1):
    chunks = [os.urandom(64 * 1024) for _ in range(80)]  # 5 MiB, no Content-Length
    data = b"".join(chunks)
    put = bucket_v1.put_object("gen.bin", (c for c in chunks))
    assert put.etag == md5_etag(data)
    assert put.crc == crc64(data)
    got = bucket_v1.get_object("gen.bin")
    assert got.read() == data
    assert got.client_crc == got.server_crc


# ---------------------------------------------------------------------------
# Persistence across a restart

def test_restart_keeps_everything(fresh_ossd):
    name = unique_bucket("rs")
    b = oss2_bucket(fresh_ossd, name)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    objs = {f"restart/{i}": os.urandom(1000 + i) for i in range(20)}
    for k, v in objs.items():
        b.put_object(k, v, headers={"x-oss-meta-i": k})
    b.put_object("tagged", b"t", headers={"x-oss-tagging": "x=y", "x-oss-object-acl": "private"})
    b.append_object("appendable", 0, b"abc")

    fresh_ossd.restart()
    assert fresh_ossd.alive()
    b = oss2_bucket(fresh_ossd, name)
    assert b.get_bucket_acl().acl == oss2.BUCKET_ACL_PUBLIC_READ
    for k, v in objs.items():
        g = b.get_object(k)
        assert g.read() == v
        assert g.etag == md5_etag(v)
        assert g.headers["x-oss-meta-i"] == k
    assert [o.key for o in oss2.ObjectIterator(b, prefix="restart/")] == sorted(objs)
    assert b.get_object_tagging("tagged").tag_set.tagging_rule == {"x": "y"}
    assert b.get_object_acl("tagged").acl == "private"
    r = b.append_object("appendable", 3, b"def")
    assert r.next_position == 6
    assert b.get_object("appendable").read() == b"abcdef"
    assert b.head_object("appendable").object_type == "Appendable"


# ---------------------------------------------------------------------------
# Malformed requests and unsupported operations

@pytest.mark.parametrize("body", [b"<Delete><Object><Key>a</Key></Object>", b"not xml at all"])
def test_delete_multiple_malformed_xml(bucket, body):
    bucket.put_object("a", b"a")
    expect_error(bucket._do, 400, "MalformedXML", "POST", bucket.bucket_name, "",
                 data=body, params={"delete": ""}, headers={"Content-MD5": b64md5(body)})
    assert bucket.get_object("a").read() == b"a"


def test_delete_multiple_too_many_keys(bucket):
    body = oss2.xml_utils.to_batch_delete_objects_request([f"k{i}" for i in range(1001)], True)
    expect_error(bucket._do, 400, "MalformedXML", "POST", bucket.bucket_name, "",
                 data=body, params={"delete": ""}, headers={"Content-MD5": b64md5(body)})


def test_tagging_malformed_xml(bucket):
    bucket.put_object("t", b"t")
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    expect_error(bucket._do, 400, "MalformedXML", "PUT", bucket.bucket_name, "t",
                 data=body, params={"tagging": ""})


def test_unsupported_operation(bucket):
    # Cross-region replication is outside what ossd implements: 501 NotImplemented.
    expect_error(bucket.get_bucket_replication, 501, "NotImplemented")
