"""Object operations as OSS answers them on the wire (issue 11, "Wire differences found"),
checked through oss2 (V1 and V4), alibabacloud-oss-v2 and raw requests.

Expected values come from OSS's documentation or are computed here; SDK iterators run
inside bounded loops (itertools.islice), so a server that keeps answering IsTruncated with
the same markers fails the test instead of hanging it.
"""

import gzip
import itertools
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests

import oss2
import alibabacloud_oss_v2 as oss
from oss2.exceptions import ServerError

from conftest import oss2_bucket, v2_client
from ossd_helpers import b64md5, crc64, http_date, md5_etag, raw_request, unique_bucket

# At most this many items from any iterator: far above what each test creates.
BOUND = 200


def expect_error(fn, status, code, *args, **kwargs):
    with pytest.raises(ServerError) as ei:
        fn(*args, **kwargs)
    e = ei.value
    if code is None:
        assert e.status == status, f"expected HTTP {status}, got {e}"
    else:
        assert (e.status, e.code) == (status, code), f"expected {status} {code}, got {e}"
    return e


def v2_error(fn, request, status, code):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        fn(request)
    se = ei.value.unwrap()
    assert isinstance(se, oss.exceptions.ServiceError), repr(ei.value)
    assert (se.status_code, se.code) == (status, code), repr(se)
    return se


@pytest.fixture
def v2c(ossd):
    return v2_client(ossd)


def raw(ossd, method, bucket, key=None, query=None, headers=None, body=b""):
    return raw_request(ossd.endpoint, method, bucket=bucket, key=key, query=query, headers=headers,
                       body=body, ak=ossd.ak, sk=ossd.sk)


def children(elem):
    return [c.tag for c in elem]


# ---------------------------------------------------------------------------
# GET /?live: SDK bucket clean-up routines iterate live channels

def test_list_live_channels_is_an_empty_result(ossd, bucket):
    assert list(itertools.islice(oss2.LiveChannelIterator(bucket), BOUND)) == []
    r = raw(ossd, "GET", bucket.bucket_name, query={"live": ""})
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.tag == "ListLiveChannelResult"
    assert root.findtext("IsTruncated") == "false"
    assert root.findall("LiveChannel") == []


# ---------------------------------------------------------------------------
# Pages that fill with CommonPrefixes carry the markers of the next page

def _dirs_and_files():
    return [f"d{i}/x" for i in range(5)] + [f"d{i}/y" for i in range(5)] + ["f0", "f1", "f2"]


def test_multipart_upload_iterator_with_delimiter_terminates(bucket):
    keys = _dirs_and_files()
    ids = {k: bucket.init_multipart_upload(k).upload_id for k in keys}
    for page_size in (1, 2, 3):
        got = list(itertools.islice(
            oss2.MultipartUploadIterator(bucket, delimiter="/", max_uploads=page_size), BOUND))
        prefixes = [u.key for u in got if u.is_prefix()]
        uploads = [(u.key, u.upload_id) for u in got if not u.is_prefix()]
        assert prefixes == [f"d{i}/" for i in range(5)], page_size
        assert uploads == [(k, ids[k]) for k in ("f0", "f1", "f2")], page_size
    # Without a delimiter every upload, once.
    got = list(itertools.islice(oss2.MultipartUploadIterator(bucket, max_uploads=4), BOUND))
    assert sorted(u.key for u in got) == sorted(keys)


def test_multipart_upload_page_ending_on_a_prefix_names_it(bucket):
    for k in _dirs_and_files():
        bucket.init_multipart_upload(k)
    r = bucket.list_multipart_uploads(delimiter="/", max_uploads=2)
    assert r.is_truncated
    assert r.prefix_list == ["d0/", "d1/"]
    assert (r.next_key_marker, r.next_upload_id_marker) == ("d1/", "")
    r2 = bucket.list_multipart_uploads(delimiter="/", max_uploads=2, key_marker=r.next_key_marker,
                                       upload_id_marker=r.next_upload_id_marker)
    assert r2.prefix_list == ["d2/", "d3/"]


def test_object_iterators_with_delimiter_terminate(bucket):
    keys = _dirs_and_files()
    for k in keys:
        bucket.put_object(k, b"x")
    for page_size in (1, 2, 5):
        for it in (oss2.ObjectIterator(bucket, delimiter="/", max_keys=page_size),
                   oss2.ObjectIteratorV2(bucket, delimiter="/", max_keys=page_size)):
            got = list(itertools.islice(it, BOUND))
            assert [o.key for o in got if o.is_prefix()] == [f"d{i}/" for i in range(5)]
            assert [o.key for o in got if not o.is_prefix()] == ["f0", "f1", "f2"]


def test_v2_paginators_with_delimiter_terminate(v2c):
    name = unique_bucket("v2w")
    v2c.put_bucket(oss.PutBucketRequest(bucket=name))
    keys = _dirs_and_files()
    for k in keys:
        v2c.put_object(oss.PutObjectRequest(bucket=name, key=k, body=b"x"))
        v2c.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(bucket=name, key=k))

    def collect(paginator, request, items, prefixes):
        pages = list(itertools.islice(paginator.iter_page(request, limit=2), BOUND))
        assert len(pages) < BOUND
        got_items = [x for p in pages for x in (getattr(p, items) or [])]
        got_prefixes = [c.prefix for p in pages for c in (getattr(p, prefixes) or [])]
        return got_items, got_prefixes

    want_prefixes = [f"d{i}/" for i in range(5)]
    for pag in (v2c.list_objects_paginator(), v2c.list_objects_v2_paginator()):
        req_cls = oss.ListObjectsRequest if pag is not None and "V2" not in type(pag).__name__ \
            else oss.ListObjectsV2Request
        objs, prefs = collect(pag, req_cls(bucket=name, delimiter="/"), "contents", "common_prefixes")
        assert prefs == want_prefixes and [o.key for o in objs] == ["f0", "f1", "f2"]
    # The v2 SDK's ListMultipartUploadsResult has no CommonPrefixes field: only the uploads
    # and the pages (5 prefixes and 3 uploads, 2 a page) can be seen.
    pages = list(itertools.islice(v2c.list_multipart_uploads_paginator().iter_page(
        oss.ListMultipartUploadsRequest(bucket=name, delimiter="/"), limit=2), BOUND))
    assert len(pages) == 4
    assert [u.key for p in pages for u in (p.uploads or [])] == ["f0", "f1", "f2"]
    assert [p.next_key_marker for p in pages[:3]] == ["d1/", "d3/", "f0"]


def test_part_iterator_pages(bucket):
    key = "parts"
    upload_id = bucket.init_multipart_upload(key).upload_id
    for n in range(1, 6):
        bucket.upload_part(key, upload_id, n, b"p" * n)
    got = list(itertools.islice(oss2.PartIterator(bucket, key, upload_id, max_parts=2), BOUND))
    assert [(p.part_number, p.size) for p in got] == [(n, n) for n in range(1, 6)]


# ---------------------------------------------------------------------------
# Keys with leading and trailing whitespace survive every operation

SPACED_KEYS = [" lead", "trail ", "  both  ", "dir /in side ", "tab\tkey\t", "end\n"]


def test_spaced_keys_put_list_copy_delete(ossd, bucket):
    for k in SPACED_KEYS:
        bucket.put_object(k, k.encode())
        assert bucket.get_object(k).read() == k.encode()
    want = sorted(SPACED_KEYS)
    # oss2 lists with encoding-type=url and decodes.
    assert [o.key for o in oss2.ObjectIterator(bucket)] == want
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == want
    # Without encoding-type the keys travel as XML text.
    for query in ({}, {"list-type": "2"}):
        r = raw(ossd, "GET", bucket.bucket_name, query=query)
        assert r.status_code == 200
        assert [c.findtext("Key") for c in ET.fromstring(r.content).findall("Contents")] == want
    bucket.copy_object(bucket.bucket_name, "trail ", " copy ")
    assert bucket.get_object(" copy ").read() == b"trail "
    r = bucket.batch_delete_objects(SPACED_KEYS + [" copy "])
    assert sorted(r.deleted_keys) == sorted(SPACED_KEYS + [" copy "])
    assert list(oss2.ObjectIterator(bucket)) == []


def test_spaced_keys_v2(v2c):
    name = unique_bucket("v2s")
    v2c.put_bucket(oss.PutBucketRequest(bucket=name))
    for k in SPACED_KEYS:
        v2c.put_object(oss.PutObjectRequest(bucket=name, key=k, body=k.encode()))
    want = sorted(SPACED_KEYS)
    for enc in (None, "url"):
        r = v2c.list_objects_v2(oss.ListObjectsV2Request(bucket=name, encoding_type=enc))
        assert [o.key for o in r.contents] == want, enc
        r = v2c.list_objects(oss.ListObjectsRequest(bucket=name, encoding_type=enc))
        assert [o.key for o in r.contents] == want, enc
    r = v2c.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
        bucket=name, objects=[oss.DeleteObject(key=k) for k in SPACED_KEYS]))
    assert sorted(d.key for d in r.deleted_objects) == want
    assert v2c.list_objects_v2(oss.ListObjectsV2Request(bucket=name)).contents in (None, [])


def test_spaced_keys_multipart_listings(ossd, bucket):
    key = " multi part "
    upload_id = bucket.init_multipart_upload(key).upload_id
    bucket.upload_part(key, upload_id, 1, b"abc")
    assert [u.key for u in oss2.MultipartUploadIterator(bucket)] == [key]
    r = raw(ossd, "GET", bucket.bucket_name, query={"uploads": ""})
    assert ET.fromstring(r.content).find("Upload").findtext("Key") == key
    r = raw(ossd, "GET", bucket.bucket_name, key=key, query={"uploadId": upload_id})
    assert ET.fromstring(r.content).findtext("Key") == key
    parts = [oss2.models.PartInfo(1, p.etag) for p in oss2.PartIterator(bucket, key, upload_id)]
    bucket.complete_multipart_upload(key, upload_id, parts)
    assert bucket.get_object(key).read() == b"abc"


# ---------------------------------------------------------------------------
# CopyObject conditions

def test_copy_conditions_304_and_412(bucket):
    etag = bucket.put_object("src", b"source").etag
    later = http_date(time.time() + 3600)
    earlier = http_date(time.time() - 3600)
    for h in ({"x-oss-copy-source-if-none-match": f'"{etag}"'},
              {"x-oss-copy-source-if-modified-since": later}):
        e = expect_error(bucket.copy_object, 304, None, bucket.bucket_name, "src", "dst", headers=h)
        assert not e.body
    for h in ({"x-oss-copy-source-if-match": '"00000000000000000000000000000000"'},
              {"x-oss-copy-source-if-unmodified-since": earlier}):
        expect_error(bucket.copy_object, 412, "PreconditionFailed", bucket.bucket_name, "src", "dst",
                     headers=h)
    assert not bucket.object_exists("dst")
    # Conditions that hold copy.
    bucket.copy_object(bucket.bucket_name, "src", "dst", headers={
        "x-oss-copy-source-if-match": f'"{etag}"', "x-oss-copy-source-if-modified-since": earlier})
    assert bucket.get_object("dst").read() == b"source"
    # UploadPartCopy answers the same way.
    upload_id = bucket.init_multipart_upload("mp").upload_id
    expect_error(bucket.upload_part_copy, 304, None, bucket.bucket_name, "src", None, "mp", upload_id, 1,
                 headers={"x-oss-copy-source-if-none-match": f'"{etag}"'})


# ---------------------------------------------------------------------------
# AppendObject at a wrong position

def test_append_wrong_position_message(bucket, v2c):
    bucket.append_object("app", 0, b"abc")
    e = expect_error(bucket.append_object, 409, "PositionNotEqualToLength", "app", 5, b"x")
    assert e.message == "Position is not equal to file length"
    assert e.next_position == 3
    assert e.headers["x-oss-next-append-position"] == "3"
    se = v2_error(v2c.append_object, oss.AppendObjectRequest(
        bucket=bucket.bucket_name, key="app", position=1, body=b"x"), 409, "PositionNotEqualToLength")
    assert se.message == "Position is not equal to file length"


# ---------------------------------------------------------------------------
# PutObject without Content-Type

@pytest.mark.parametrize("version", ["v1", "v4"])
def test_presigned_put_without_content_type_is_octet_stream(ossd, version):
    b = oss2_bucket(ossd, unique_bucket("ct"), version)
    b.create_bucket()
    for key in ("page.html", "notes.txt", "photo.jpg"):
        url = b.sign_url("PUT", key, 300)
        r = requests.put(url, data=b"<p>hi</p>")
        assert r.status_code == 200, r.text
        assert "Content-Type" not in r.request.headers
        assert b.head_object(key).content_type == "application/octet-stream"
        # The SDK guesses on the client side; the server stores what it was sent.
        b.put_object(key, b"x")
        assert b.head_object(key).content_type == oss2.utils.content_type_by_name(key)


# ---------------------------------------------------------------------------
# GET with Accept-Encoding: gzip

def test_gzip_for_compressible_types(ossd, bucket):
    text = ("line of text that compresses well " * 400).encode()
    bucket.put_object("big.txt", text, headers={"Content-Type": "text/plain"})
    bucket.put_object("big.json", text, headers={"Content-Type": "application/json; charset=utf-8"})
    bucket.put_object("big.bin", text, headers={"Content-Type": "application/octet-stream"})
    bucket.put_object("small.txt", b"s" * 1023, headers={"Content-Type": "text/plain"})
    url = lambda k: bucket.sign_url("GET", k, 300)  # noqa: E731
    for key in ("big.txt", "big.json"):
        r = requests.get(url(key), headers={"Accept-Encoding": "gzip"}, stream=True)
        assert r.status_code == 200
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in r.headers and "ETag" not in r.headers
        assert "Accept-Ranges" not in r.headers
        raw_body = r.raw.read(decode_content=False)
        assert len(raw_body) < len(text)
        assert gzip.decompress(raw_body) == text
        assert r.headers["x-oss-hash-crc64ecma"] == str(crc64(text))
    for key, body in (("big.bin", text), ("small.txt", b"s" * 1023)):
        r = requests.get(url(key), headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in r.headers, key
        assert r.headers["Content-Length"] == str(len(body)) and r.content == body
    # A range, or no Accept-Encoding: the plain bytes.
    r = requests.get(url("big.txt"), headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == text[:10] and "Content-Encoding" not in r.headers
    r = requests.get(url("big.txt"), headers={"Accept-Encoding": "identity"})
    assert r.headers["Content-Length"] == str(len(text)) and r.headers["ETag"] == f'"{md5_etag(text)}"'
    # Already encoded objects, and a response-content-encoding override, are sent as stored.
    pre = gzip.compress(text)
    bucket.put_object("pre.txt", pre, headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})
    r = requests.get(url("pre.txt"), headers={"Accept-Encoding": "gzip"}, stream=True)
    assert r.headers["Content-Length"] == str(len(pre)) and r.raw.read(decode_content=False) == pre
    r = requests.get(bucket.sign_url("GET", "big.txt", 300, params={"response-content-encoding": "identity"}),
                     headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "identity" and r.content == text
    # HEAD shows what a GET would send.
    h = requests.head(bucket.sign_url("HEAD", "big.txt", 300), headers={"Accept-Encoding": "gzip"})
    assert h.headers["Content-Encoding"] == "gzip" and "ETag" not in h.headers
    # oss2 with Accept-Encoding: gzip gets the compressed stream (and skips its CRC check).
    got = bucket.get_object("big.txt", headers={"Accept-Encoding": "gzip"})
    assert got.headers["Content-Encoding"] == "gzip"


# ---------------------------------------------------------------------------
# Object tagging validation

BAD_TAGS = [
    ({"": "v"}, "InvalidTag"),
    ({"k" * 129: "v"}, "InvalidTag"),
    ({"k": "v" * 257}, "InvalidTag"),
    ({"bad!key": "v"}, "InvalidTag"),
    ({"k": "bad@value"}, "InvalidTag"),
    ({f"k{i}": "v" for i in range(11)}, "InvalidTag"),
]


def rule(tags):
    # Filled directly: oss2's add() refuses empty and over-long keys before they are sent,
    # and the server must refuse them from any client.
    r = oss2.models.TaggingRule()
    r.tagging_rule = dict(tags)
    return r


def test_put_object_tagging_validation(bucket):
    bucket.put_object("t", b"x")
    good = {"k" * 128: "v" * 256, "a +-=._:/": " +-=._:/", "empty": ""}
    bucket.put_object_tagging("t", oss2.models.Tagging(rule(good)))
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == good
    for tags, code in BAD_TAGS:
        expect_error(bucket.put_object_tagging, 400, code, "t",
                     oss2.models.Tagging(rule(tags)))
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == good


def test_x_oss_tagging_validation(bucket):
    for tags, code in BAD_TAGS:
        header = rule(tags).to_query_string()
        expect_error(bucket.put_object, 400, code, "h", b"x", headers={"x-oss-tagging": header})
        expect_error(bucket.init_multipart_upload, 400, code, "h", headers={"x-oss-tagging": header})
    expect_error(bucket.put_object, 400, "InvalidArgument", "h", b"x", headers={"x-oss-tagging": "aa=bb=cc"})
    assert not bucket.object_exists("h")
    bucket.put_object("h", b"x", headers={"x-oss-tagging": "a=1&b%20c=d%2Fe"})
    assert bucket.get_object_tagging("h").tag_set.tagging_rule == {"a": "1", "b c": "d/e"}


def test_duplicate_tag_keys_v2(v2c):
    name = unique_bucket("v2t")
    v2c.put_bucket(oss.PutBucketRequest(bucket=name))
    v2c.put_object(oss.PutObjectRequest(bucket=name, key="t", body=b"x"))
    se = v2_error(v2c.put_object_tagging, oss.PutObjectTaggingRequest(
        bucket=name, key="t", tagging=oss.Tagging(tag_set=oss.TagSet(tags=[
            oss.Tag(key="k", value="1"), oss.Tag(key="k", value="2")]))), 400, "InvalidTag")
    assert se.ec
    v2_error(v2c.put_object, oss.PutObjectRequest(bucket=name, key="u", body=b"x", tagging="k=1&k=2"),
             400, "InvalidTag")


# ---------------------------------------------------------------------------
# ACL of a completed multipart upload, bucket CORS and ACL

def test_completed_upload_without_acl_is_default(bucket, v2c):
    upload_id = bucket.init_multipart_upload("mp").upload_id
    etag = bucket.upload_part("mp", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("mp", upload_id, [oss2.models.PartInfo(1, etag)])
    assert bucket.get_object_acl("mp").acl == "default"
    r = v2c.get_object_acl(oss.GetObjectAclRequest(bucket=bucket.bucket_name, key="mp"))
    assert r.acl == "default"


def test_get_bucket_cors_without_rules_is_404(bucket, v2c):
    expect_error(bucket.get_bucket_cors, 404, "NoSuchCORSConfiguration")
    v2_error(v2c.get_bucket_cors, oss.GetBucketCorsRequest(bucket=bucket.bucket_name), 404,
             "NoSuchCORSConfiguration")
    bucket.put_bucket_cors(oss2.models.BucketCors([oss2.models.CorsRule(allowed_origins=["*"],
                                                                         allowed_methods=["GET"])]))
    assert len(bucket.get_bucket_cors().rules) == 1
    bucket.delete_bucket_cors()
    expect_error(bucket.get_bucket_cors, 404, "NoSuchCORSConfiguration")


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_put_bucket_acl_creates_a_missing_bucket(ossd, version):
    b = oss2_bucket(ossd, unique_bucket("acl"), version)
    r = b.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert r.status == 200
    assert b.get_bucket_acl().acl == "public-read"
    assert b.get_bucket_info().name == b.bucket_name
    b.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    assert b.get_bucket_acl().acl == "private"
    # Anonymous callers create nothing: the bucket they name does not exist.
    name = unique_bucket("acl")
    r = requests.put(f"{ossd.endpoint}/{name}/?acl", headers={"x-oss-acl": "public-read"})
    assert r.status_code == 404 and b"NoSuchBucket" in r.content
    expect_error(oss2_bucket(ossd, name, version).get_bucket_info, 404, "NoSuchBucket")


def test_v2_put_bucket_acl_creates_a_missing_bucket(v2c):
    name = unique_bucket("acl")
    v2c.put_bucket_acl(oss.PutBucketAclRequest(bucket=name, acl="public-read-write"))
    assert v2c.get_bucket_acl(oss.GetBucketAclRequest(bucket=name)).acl == "public-read-write"


# ---------------------------------------------------------------------------
# CopyObject REPLACE across buckets; the v2 Copier and oss2's part copy

def _two_buckets(ossd, version="v1"):
    src = oss2_bucket(ossd, unique_bucket("cs"), version)
    dst = oss2_bucket(ossd, unique_bucket("cd"), version)
    src.create_bucket()
    dst.create_bucket()
    return src, dst


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_copy_replace_across_buckets(ossd, version):
    src, dst = _two_buckets(ossd, version)
    src.put_object("s", b"payload", headers={"Content-Type": "text/x-src", "x-oss-meta-old": "1",
                                             "Cache-Control": "no-cache", "x-oss-tagging": "t=src"})
    dst.copy_object(src.bucket_name, "s", "d", headers={
        "x-oss-metadata-directive": "REPLACE", "Content-Type": "text/x-new", "x-oss-meta-new": "2",
        "x-oss-tagging-directive": "Replace", "x-oss-tagging": "t=new&u=1"})
    h = dst.head_object("d")
    assert h.content_type == "text/x-new"
    assert h.headers.get("x-oss-meta-new") == "2" and "x-oss-meta-old" not in h.headers
    assert "Cache-Control" not in h.headers
    assert dst.get_object_tagging("d").tag_set.tagging_rule == {"t": "new", "u": "1"}
    # COPY keeps the source's; the tagging directive is independent.
    dst.copy_object(src.bucket_name, "s", "c", headers={"x-oss-tagging-directive": "Copy"})
    h = dst.head_object("c")
    assert h.content_type == "text/x-src" and h.headers.get("x-oss-meta-old") == "1"
    assert dst.get_object_tagging("c").tag_set.tagging_rule == {"t": "src"}


def test_oss2_upload_part_copy_keeps_initiate_attrs(ossd):
    src, dst = _two_buckets(ossd)
    data = b"a" * (100 * 1024) + b"b" * 1000
    src.put_object("s", data, headers={"Content-Type": "text/x-src", "x-oss-meta-old": "1"})
    upload_id = dst.init_multipart_upload("d", headers={
        "Content-Type": "text/x-mp", "x-oss-meta-new": "2", "x-oss-tagging": "k=v"}).upload_id
    r1 = dst.upload_part_copy(src.bucket_name, "s", (0, 100 * 1024 - 1), "d", upload_id, 1)
    r2 = dst.upload_part_copy(src.bucket_name, "s", (100 * 1024, len(data) - 1), "d", upload_id, 2)
    dst.complete_multipart_upload("d", upload_id, [oss2.models.PartInfo(1, r1.etag),
                                                   oss2.models.PartInfo(2, r2.etag)])
    got = dst.get_object("d")
    assert got.read() == data
    assert got.content_type == "text/x-mp" and got.headers.get("x-oss-meta-new") == "2"
    assert "x-oss-meta-old" not in got.headers
    assert dst.get_object_tagging("d").tag_set.tagging_rule == {"k": "v"}
    assert got.headers["x-oss-hash-crc64ecma"] == str(crc64(data))


@pytest.mark.parametrize("multipart", [False, True])
def test_v2_copier_replace_across_buckets(v2c, multipart):
    src, dst = unique_bucket("vcs"), unique_bucket("vcd")
    for b in (src, dst):
        v2c.put_bucket(oss.PutBucketRequest(bucket=b))
    data = uuid.uuid4().bytes * (300 * 1024 // 16)
    v2c.put_object(oss.PutObjectRequest(bucket=src, key="s", body=data, content_type="text/x-src",
                                        metadata={"old": "1"}, tagging="t=src"))
    opts = {"multipart_copy_threshold": 200 * 1024, "part_size": 100 * 1024} if multipart else {}
    copier = v2c.copier(**opts)
    for directive, key in (("REPLACE", "r"), ("COPY", "c")):
        req = oss.CopyObjectRequest(bucket=dst, key=key, source_bucket=src, source_key="s",
                                    metadata_directive=directive, tagging_directive=directive.capitalize())
        if directive == "REPLACE":
            req.content_type = "text/x-new"
            req.metadata = {"new": "2"}
            req.tagging = "t=new"
        r = copier.copy(req)
        assert (r.upload_id is not None) == multipart
        h = v2c.head_object(oss.HeadObjectRequest(bucket=dst, key=key))
        t = v2c.get_object_tagging(oss.GetObjectTaggingRequest(bucket=dst, key=key))
        tags = {x.key: x.value for x in t.tag_set.tags}
        if directive == "REPLACE":
            assert (h.content_type, h.metadata, tags) == ("text/x-new", {"new": "2"}, {"t": "new"})
        else:
            assert (h.content_type, h.metadata, tags) == ("text/x-src", {"old": "1"}, {"t": "src"})
        assert h.object_type == ("Multipart" if multipart else "Normal")
        assert int(h.content_length) == len(data)
        assert h.hash_crc64 == str(crc64(data))


# ---------------------------------------------------------------------------
# Multipart results carry exactly OSS's fields

def test_multipart_result_fields(ossd, bucket):
    name, key = bucket.bucket_name, "dir/ä b"
    r = raw(ossd, "POST", name, key=key, query={"uploads": ""})
    root = ET.fromstring(r.content)
    assert children(root) == ["Bucket", "Key", "UploadId"]
    assert root.findtext("Key") == key
    r = raw(ossd, "POST", name, key=key, query={"uploads": "", "encoding-type": "url"})
    root = ET.fromstring(r.content)
    assert children(root) == ["EncodingType", "Bucket", "Key", "UploadId"]
    assert root.findtext("Key") == "dir%2F%C3%A4%20b"
    upload_id = root.findtext("UploadId")
    bucket.upload_part(key, upload_id, 1, b"x")

    r = raw(ossd, "GET", name, query={"uploads": ""})
    root = ET.fromstring(r.content)
    assert root.find("EncodingType") is None
    assert [u.findtext("Key") for u in root.findall("Upload")] == [key, key]
    assert children(root.find("Upload")) == ["Key", "UploadId", "StorageClass", "Initiated"]
    r = raw(ossd, "GET", name, query={"uploads": "", "encoding-type": "url"})
    root = ET.fromstring(r.content)
    assert root.findtext("EncodingType") == "url"
    assert [u.findtext("Key") for u in root.findall("Upload")] == ["dir%2F%C3%A4%20b"] * 2

    r = raw(ossd, "GET", name, key=key, query={"uploadId": upload_id})
    root = ET.fromstring(r.content)
    assert root.find("EncodingType") is None and root.findtext("Key") == key
    # The upload's storage class (issue 11 lists ListParts among the answers that show it).
    assert root.findtext("StorageClass") == "Standard"
    assert children(root.find("Part")) == ["PartNumber", "LastModified", "ETag", "HashCrc64ecma", "Size"]
    r = raw(ossd, "GET", name, key=key, query={"uploadId": upload_id, "encoding-type": "url"})
    root = ET.fromstring(r.content)
    assert root.findtext("EncodingType") == "url" and root.findtext("Key") == "dir%2F%C3%A4%20b"
    # The SDKs decode what they asked to be encoded.
    assert [u.key for u in oss2.MultipartUploadIterator(bucket)] == [key, key]
    assert bucket.list_parts(key, upload_id).parts[0].size == 1


# ---------------------------------------------------------------------------
# Fields the SDKs' GetObject / HeadObject results read

def test_content_md5_on_get_and_head(bucket, v2c):
    data = b"whole object"
    bucket.put_object("simple", data)
    for r in (bucket.head_object("simple"), bucket.get_object("simple")):
        assert r.headers["Content-MD5"] == b64md5(data)
    h = v2c.head_object(oss.HeadObjectRequest(bucket=bucket.bucket_name, key="simple"))
    assert h.content_md5 == b64md5(data)
    g = v2c.get_object(oss.GetObjectRequest(bucket=bucket.bucket_name, key="simple"))
    assert g.content_md5 == b64md5(data) and g.body.read() == data
    # Multipart and appendable objects carry no MD5 of their bytes.
    upload_id = bucket.init_multipart_upload("mp").upload_id
    etag = bucket.upload_part("mp", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("mp", upload_id, [oss2.models.PartInfo(1, etag)])
    bucket.append_object("app", 0, b"abc")
    for key in ("mp", "app"):
        assert "Content-MD5" not in bucket.head_object(key).headers, key
