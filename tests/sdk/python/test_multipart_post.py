"""Multipart uploads (oss2 low level and resumable, alibabacloud-oss-v2 uploader and low level),
CompleteMultipartUpload with callbacks, and PostObject form uploads signed by hand (V1 and V4)
as Alibaba's docs describe (shared/spec/oss-api.md sections 2 and 3, callback.md)."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

import oss2
import alibabacloud_oss_v2 as oss
from oss2.models import PartInfo

from conftest import oss2_bucket, v2_client
from ossd_helpers import OssdServer, b64md5, crc64, md5_etag, unique_bucket
from receivers import Receiver, b64, closed_port

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = OssdServer(tmp_path_factory.mktemp("mp") / "data",
                        extra_args=["--callback-timeout-ms", "1000"])
    server.start()
    yield server
    server.stop()


_BUCKETS = []


@pytest.fixture
def bkt(srv):
    b = oss2_bucket(srv, unique_bucket("mp"))
    b.create_bucket()
    _BUCKETS.append(b)
    yield b
    _BUCKETS.remove(b)


def _drop_pooled_connections():
    """After an error answer the server may drop the keep-alive connection without saying
    `Connection: close` (checked on its own in test_callbacks.py::test_connection_after_400);
    start the next request on a new connection so that these tests judge only their subject."""
    for b in _BUCKETS:
        b.session.session.close()


@pytest.fixture
def rcv():
    r = Receiver()
    yield r
    r.close()


def oss_error(fn):
    with pytest.raises(oss2.exceptions.OssError) as ei:
        fn()
    _drop_pooled_connections()
    return ei.value


def assert_error(fn, status, code):
    e = oss_error(fn)
    assert (e.status, e.code) == (status, code), (e.status, e.code, e.message)
    return e


def part_info(n, etag, data):
    return PartInfo(n, etag, size=len(data), part_crc=crc64(data))


def multipart_etag(parts):
    """S3-style: MD5 of the concatenated binary part MD5s, '-' part count (oss-api.md 4)."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest().upper()
    return f"{digest}-{len(parts)}"


# ---------------------------------------------------------------------------
# oss2: the low-level calls

def test_multipart_full_cycle(bkt, srv):
    src = os.urandom(400 * KiB)
    bkt.put_object("source.bin", src)
    key = "mp/ü k+&=.bin"
    init = bkt.init_multipart_upload(key, headers={
        "Content-Type": "application/x-ossd-test", "x-oss-meta-color": "blue",
        "x-oss-object-acl": "public-read", "Cache-Control": "no-cache"})
    uid = init.upload_id
    assert uid

    p1 = os.urandom(150 * KiB)
    p2 = os.urandom(120 * KiB)
    p3 = src[50 * KiB:50 * KiB + 110 * KiB]  # copied from source.bin
    p4 = os.urandom(10 * KiB + 7)             # last part may be small
    r1 = bkt.upload_part(key, uid, 1, p1)
    assert r1.etag == md5_etag(p1) and r1.crc == crc64(p1)
    r2 = bkt.upload_part(key, uid, 2, p2)
    r3 = bkt.upload_part_copy(bkt.bucket_name, "source.bin", (50 * KiB, 160 * KiB - 1), key, uid, 3)
    assert r3.etag == md5_etag(p3)
    r4 = bkt.upload_part(key, uid, 4, p4)

    lp = bkt.list_parts(key, uid)
    assert [p.part_number for p in lp.parts] == [1, 2, 3, 4]
    assert [p.size for p in lp.parts] == [len(p1), len(p2), len(p3), len(p4)]
    assert [p.etag for p in lp.parts] == [md5_etag(p) for p in (p1, p2, p3, p4)]
    assert not lp.is_truncated
    page1 = bkt.list_parts(key, uid, max_parts=2)
    assert [p.part_number for p in page1.parts] == [1, 2]
    assert page1.is_truncated and str(page1.next_marker) == "2"
    page2 = bkt.list_parts(key, uid, marker=page1.next_marker, max_parts=2)
    assert [p.part_number for p in page2.parts] == [3, 4] and not page2.is_truncated

    parts = [part_info(1, r1.etag, p1), part_info(2, r2.etag, p2), part_info(3, r3.etag, p3),
             part_info(4, r4.etag, p4)]
    done = bkt.complete_multipart_upload(key, uid, parts)  # oss2 checks the combined CRC
    whole = p1 + p2 + p3 + p4
    assert done.status == 200
    assert done.crc == crc64(whole)
    assert done.etag == multipart_etag([p1, p2, p3, p4])

    got = bkt.get_object(key)  # oss2 verifies the CRC of the full read
    assert got.read() == whole
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert got.headers["Content-Type"] == "application/x-ossd-test"
    assert got.headers["x-oss-meta-color"] == "blue"
    assert got.headers["Cache-Control"] == "no-cache"
    assert bkt.get_object_acl(key).acl == "public-read"
    anon = requests.get(f"{srv.endpoint}/{bkt.bucket_name}/{requests.utils.quote(key, safe='')}",
                        timeout=30)
    assert anon.status_code == 200 and anon.content == whole

    b1 = len(p1)
    b2 = b1 + len(p2)
    b3 = b2 + len(p3)
    for lo, hi in [(b1 - 10, b1 + 9), (b2 - 1, b2), (b1 - 5, b3 + 5), (b3 - 100, len(whole) - 1),
                   (0, 0), (len(whole) - 1, len(whole) - 1)]:
        r = bkt.get_object(key, byte_range=(lo, hi))
        assert r.status == 206
        assert r.read() == whole[lo:hi + 1], (lo, hi)
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{len(whole)}"

    # The upload is gone once complete.
    assert_error(lambda: bkt.list_parts(key, uid), 404, "NoSuchUpload")


def test_reuploaded_part_replaces_previous(bkt):
    key = "mp/replace"
    uid = bkt.init_multipart_upload(key).upload_id
    first = os.urandom(100 * KiB)
    second = os.urandom(101 * KiB)
    bkt.upload_part(key, uid, 1, first)
    r = bkt.upload_part(key, uid, 1, second)
    tail = b"tail"
    t = bkt.upload_part(key, uid, 2, tail)
    lp = bkt.list_parts(key, uid)
    assert [(p.part_number, p.size) for p in lp.parts] == [(1, len(second)), (2, 4)]
    bkt.complete_multipart_upload(key, uid, [part_info(1, r.etag, second), part_info(2, t.etag, tail)])
    assert bkt.get_object(key).read() == second + tail


def test_complete_all(bkt):
    key = "mp/complete-all"
    uid = bkt.init_multipart_upload(key).upload_id
    chunks = {3: b"c" * 10, 1: os.urandom(100 * KiB), 2: os.urandom(130 * KiB)}
    for n, d in chunks.items():
        bkt.upload_part(key, uid, n, d)
    res = bkt.complete_multipart_upload(key, uid, None, headers={"x-oss-complete-all": "yes"})
    whole = chunks[1] + chunks[2] + chunks[3]
    assert res.status == 200 and res.crc == crc64(whole)
    assert bkt.get_object(key).read() == whole


def test_list_multipart_uploads_of_many_folders(bkt):
    """Folders and runs of plain keys longer than the server's first batches (it asks for a
    few rows at a time under a delimiter): every folder and upload is listed once, whole pages
    and pages of 5 alike."""
    folders = [f"lmf/d{i:02}/" for i in range(14)]
    plain = [f"lmf/f{i:02}" for i in range(21)]
    ids = []
    for f in folders:
        for n in range(2):
            bkt.init_multipart_upload(f"{f}{n}")
    for k in plain:
        ids.append((k, bkt.init_multipart_upload(k).upload_id))
    try:
        r = bkt.list_multipart_uploads(prefix="lmf/", delimiter="/", max_uploads=1000)
        assert r.prefix_list == folders
        assert [(u.key, u.upload_id) for u in r.upload_list] == sorted(ids)
        assert not r.is_truncated
        seen_prefixes, seen, km, um = [], [], "", ""
        for _ in range(40):
            page = bkt.list_multipart_uploads(prefix="lmf/", delimiter="/", key_marker=km,
                                              upload_id_marker=um, max_uploads=5)
            assert len(page.upload_list) + len(page.prefix_list) <= 5
            seen_prefixes += page.prefix_list
            seen += [(u.key, u.upload_id) for u in page.upload_list]
            if not page.is_truncated:
                break
            km, um = page.next_key_marker, page.next_upload_id_marker
        assert seen_prefixes == folders
        assert seen == sorted(ids)
    finally:
        for u in bkt.list_multipart_uploads(prefix="lmf/", max_uploads=1000).upload_list:
            bkt.abort_multipart_upload(u.key, u.upload_id)


def test_list_multipart_uploads(bkt):
    keys = ["lmu/a/1", "lmu/a/2", "lmu/b", "lmu/c", "lmu/c", "other"]
    ids = {}
    for k in keys:
        ids.setdefault(k, []).append(bkt.init_multipart_upload(k).upload_id)

    every = bkt.list_multipart_uploads()
    assert sorted(u.key for u in every.upload_list) == sorted(keys)
    assert not every.is_truncated
    listed = [(u.key, u.upload_id) for u in every.upload_list]
    assert listed == sorted(listed, key=lambda x: x[0]), "sorted by key"

    r = bkt.list_multipart_uploads(prefix="lmu/", delimiter="/")
    assert r.prefix_list == ["lmu/a/"]
    assert sorted((u.key, u.upload_id) for u in r.upload_list) == sorted(
        [("lmu/b", ids["lmu/b"][0])] + [("lmu/c", i) for i in ids["lmu/c"]])

    r = bkt.list_multipart_uploads(prefix="lmu/a/")
    assert sorted(u.key for u in r.upload_list) == ["lmu/a/1", "lmu/a/2"]

    # Paging one upload at a time walks every upload exactly once.
    seen = []
    km, um = "", ""
    for _ in range(20):
        page = bkt.list_multipart_uploads(prefix="lmu/", key_marker=km, upload_id_marker=um,
                                          max_uploads=1)
        seen += [(u.key, u.upload_id) for u in page.upload_list]
        if not page.is_truncated:
            break
        assert len(page.upload_list) == 1
        km, um = page.next_key_marker, page.next_upload_id_marker
    want = sorted((k, i) for k, v in ids.items() if k.startswith("lmu/") for i in v)
    assert sorted(seen) == want and len(seen) == len(want)

    # key-marker alone skips every upload of that key.
    r = bkt.list_multipart_uploads(prefix="lmu/", key_marker="lmu/b")
    assert sorted(u.key for u in r.upload_list) == ["lmu/c", "lmu/c"]

    for k, v in ids.items():
        for i in v:
            bkt.abort_multipart_upload(k, i)
    assert bkt.list_multipart_uploads().upload_list == []


def test_multipart_errors(bkt):
    key = "mp/errors"
    uid = bkt.init_multipart_upload(key).upload_id
    small1 = os.urandom(50 * KiB)
    small2 = os.urandom(50 * KiB)
    big = os.urandom(100 * KiB)
    e1 = bkt.upload_part(key, uid, 1, small1).etag
    e2 = bkt.upload_part(key, uid, 2, small2).etag
    e3 = bkt.upload_part(key, uid, 3, big).etag
    e4 = bkt.upload_part(key, uid, 4, b"last").etag

    # Non-last part under 100 KiB.
    assert_error(lambda: bkt.complete_multipart_upload(
        key, uid, [PartInfo(1, e1), PartInfo(2, e2)]), 400, "EntityTooSmall")
    # Unknown ETag, unknown part number.
    assert_error(lambda: bkt.complete_multipart_upload(
        key, uid, [PartInfo(3, e3), PartInfo(4, "0" * 32)]), 400, "InvalidPart")
    assert_error(lambda: bkt.complete_multipart_upload(
        key, uid, [PartInfo(3, e3), PartInfo(9, e4)]), 400, "InvalidPart")
    # Descending order (raw XML: oss2 sorts the parts itself).
    body = ("<CompleteMultipartUpload><Part><PartNumber>4</PartNumber><ETag>\"%s\"</ETag></Part>"
            "<Part><PartNumber>3</PartNumber><ETag>\"%s\"</ETag></Part></CompleteMultipartUpload>"
            % (e4, e3))
    url = bkt.sign_url("POST", key, 120, params={"uploadId": uid})
    resp = requests.post(url, data=body.encode(), timeout=30)
    assert resp.status_code == 400 and "<Code>InvalidPartOrder</Code>" in resp.text, resp.text
    # Part numbers out of range.
    for n in (0, 10001):
        assert_error(lambda: bkt.upload_part(key, uid, n, b"x"), 400, "InvalidArgument")
    # Wrong Content-MD5.
    assert_error(lambda: bkt.upload_part(key, uid, 5, b"abc", headers={"Content-MD5": b64md5(b"abd")}),
                 400, "InvalidDigest")
    # Nothing was assembled by the failed attempts; the upload still completes.
    assert not bkt.object_exists(key)
    res = bkt.complete_multipart_upload(key, uid, [PartInfo(3, e3), PartInfo(4, e4)])
    assert res.status == 200
    assert bkt.get_object(key).read() == big + b"last"


def test_no_such_upload(bkt):
    key = "mp/nosuch"
    bogus = "0123456789ABCDEF0123456789ABCDEF"
    assert_error(lambda: bkt.upload_part(key, bogus, 1, b"x"), 404, "NoSuchUpload")
    assert_error(lambda: bkt.list_parts(key, bogus), 404, "NoSuchUpload")
    assert_error(lambda: bkt.complete_multipart_upload(key, bogus, [PartInfo(1, "A" * 32)]),
                 404, "NoSuchUpload")
    assert_error(lambda: bkt.abort_multipart_upload(key, bogus), 404, "NoSuchUpload")
    # An upload id belongs to its key.
    uid = bkt.init_multipart_upload(key).upload_id
    assert_error(lambda: bkt.upload_part("mp/other-key", uid, 1, b"x"), 404, "NoSuchUpload")
    bkt.abort_multipart_upload(key, uid)


def test_abort_releases_parts(bkt):
    key = "mp/abort"
    uid = bkt.init_multipart_upload(key).upload_id
    bkt.upload_part(key, uid, 1, os.urandom(100 * KiB))
    bkt.upload_part(key, uid, 2, b"end")
    assert len(bkt.list_parts(key, uid).parts) == 2
    res = bkt.abort_multipart_upload(key, uid)
    assert res.status == 204
    assert_error(lambda: bkt.list_parts(key, uid), 404, "NoSuchUpload")
    assert_error(lambda: bkt.upload_part(key, uid, 3, b"x"), 404, "NoSuchUpload")
    assert uid not in [u.upload_id for u in bkt.list_multipart_uploads().upload_list]
    assert not bkt.object_exists(key)
    # A bucket whose only upload was aborted can be deleted.
    bkt.delete_bucket()


def test_delete_bucket_with_pending_upload(bkt):
    uid = bkt.init_multipart_upload("pending").upload_id
    assert_error(lambda: bkt.delete_bucket(), 409, "BucketNotEmpty")
    bkt.abort_multipart_upload("pending", uid)
    bkt.delete_bucket()


def test_resumable_upload_multithreaded(bkt, tmp_path):
    data = os.urandom(3 * MiB + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    seen = []
    res = oss2.resumable_upload(bkt, "resumable/big.bin", str(path),
                                store=oss2.ResumableStore(root=str(tmp_path)),
                                multipart_threshold=200 * KiB, part_size=512 * KiB, num_threads=4,
                                progress_callback=lambda done, total: seen.append((done, total)))
    assert res.status == 200
    assert res.crc == crc64(data)
    got = bkt.get_object("resumable/big.bin")
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert got.read() == data
    assert seen and seen[-1][0] == len(data)
    assert bkt.list_multipart_uploads().upload_list == []


# ---------------------------------------------------------------------------
# CompleteMultipartUpload with a callback

def _two_part_upload(bucket, key):
    uid = bucket.init_multipart_upload(key, headers={"Content-Type": "video/mp4"}).upload_id
    a = os.urandom(100 * KiB)
    b = os.urandom(3 * KiB)
    ra = bucket.upload_part(key, uid, 1, a)
    rb = bucket.upload_part(key, uid, 2, b)
    return uid, a + b, [part_info(1, ra.etag, a), part_info(2, rb.etag, b)], [a, b]


CMU_TEMPLATE = ("bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}"
                "&crc64=${crc64}&contentMd5=${contentMd5}&operation=${operation}&v=${x:v}")


def test_complete_with_callback_oss2(bkt, rcv):
    rcv.body = b'{"multipart":"done"}'
    key = "mp/cb video.mp4"
    uid, whole, parts, raw = _two_part_upload(bkt, key)
    headers = {"x-oss-callback": b64({"callbackUrl": rcv.url("/cmu"), "callbackBody": CMU_TEMPLATE}),
               "x-oss-callback-var": b64({"x:v": "a b&c"})}
    res = bkt.complete_multipart_upload(key, uid, parts, headers=headers)
    assert res.status == 200
    assert res.resp.read() == b'{"multipart":"done"}'  # replaces the XML result
    assert res.headers["Content-Type"].startswith("application/json")
    assert res.headers["x-oss-hash-crc64ecma"] == str(crc64(whole))
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert dict(call.form()) == {
        "bucket": bkt.bucket_name, "object": key, "etag": multipart_etag(raw),
        "size": str(len(whole)), "mimeType": "video/mp4", "crc64": str(crc64(whole)),
        "contentMd5": "", "operation": "CompleteMultipartUpload", "v": "a b&c"}
    assert bkt.get_object(key).read() == whole


def test_complete_with_callback_failure_keeps_object(bkt):
    key = "mp/cb-fail"
    uid, whole, parts, _ = _two_part_upload(bkt, key)
    headers = {"x-oss-callback": b64({"callbackUrl": f"http://127.0.0.1:{closed_port()}/x",
                                      "callbackBody": "size=${size}"})}
    res = bkt.complete_multipart_upload(key, uid, parts, headers=headers)
    assert res.status == 203
    root = ET.fromstring(res.resp.read())
    assert root.findtext("Code") == "CallbackFailed"
    assert root.findtext("Message") == ("Error status : -1. OSS can not connect to your "
                                        "callbackUrl, please check it.")
    assert root.findtext("EC") == "0007-00000203"
    assert res.headers["x-oss-hash-crc64ecma"] == str(crc64(whole))
    assert bkt.get_object(key).read() == whole
    assert_error(lambda: bkt.list_parts(key, uid), 404, "NoSuchUpload")


def test_complete_with_bad_callback_is_rejected_and_upload_kept(bkt):
    key = "mp/cb-bad"
    uid, whole, parts, _ = _two_part_upload(bkt, key)
    e = assert_error(lambda: bkt.complete_multipart_upload(
        key, uid, parts, headers={"x-oss-callback": b64({"callbackUrl": "http://127.0.0.1:1/",
                                                         "callbackBody": ""})}),
        400, "InvalidArgument")
    assert e.details.get("EC") == "0007-00000011"
    assert not bkt.object_exists(key)
    assert len(bkt.list_parts(key, uid).parts) == 2  # still there to retry
    assert bkt.complete_multipart_upload(key, uid, parts).status == 200
    assert bkt.get_object(key).read() == whole


# ---------------------------------------------------------------------------
# alibabacloud-oss-v2

@pytest.fixture(params=["v4", "v1"])
def v2c(request, srv):
    client = v2_client(srv, request.param)
    name = unique_bucket("mpv2")
    client.put_bucket(oss.PutBucketRequest(bucket=name))
    return client, name


def test_v2_uploader(v2c, tmp_path):
    client, name = v2c
    data = os.urandom(2 * MiB + 333)
    path = tmp_path / "up.bin"
    path.write_bytes(data)
    up = client.uploader(part_size=256 * KiB, parallel_num=3)
    res = up.upload_file(oss.PutObjectRequest(bucket=name, key="v2/uploaded.bin"), str(path))
    assert res.status_code == 200
    assert res.hash_crc64 == str(crc64(data))
    assert res.upload_id
    g = client.get_object(oss.GetObjectRequest(bucket=name, key="v2/uploaded.bin"))
    assert g.body.read() == data
    assert g.object_type == "Multipart"


def test_v2_low_level_with_callback(v2c, rcv):
    client, name = v2c
    key = "v2/low level.bin"
    init = client.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=name, key=key, content_type="text/csv"))
    uid = init.upload_id
    a, b = os.urandom(100 * KiB), os.urandom(77)
    pa = client.upload_part(oss.UploadPartRequest(bucket=name, key=key, upload_id=uid,
                                                  part_number=1, body=a))
    pb = client.upload_part(oss.UploadPartRequest(bucket=name, key=key, upload_id=uid,
                                                  part_number=2, body=b))
    assert pa.etag == f'"{md5_etag(a)}"'
    lp = client.list_parts(oss.ListPartsRequest(bucket=name, key=key, upload_id=uid))
    assert [(p.part_number, p.size) for p in lp.parts] == [(1, len(a)), (2, len(b))]
    lu = client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=name))
    assert [(u.key, u.upload_id) for u in lu.uploads] == [(key, uid)]

    rcv.body = b'{"v2":"complete"}'
    res = client.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=name, key=key, upload_id=uid,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=[
            oss.UploadPart(part_number=1, etag=pa.etag), oss.UploadPart(part_number=2, etag=pb.etag)]),
        callback=b64({"callbackUrl": rcv.url("/v2"), "callbackBodyType": "application/json",
                      "callbackBody": '{"size":${size},"op":${operation},"md5":${contentMd5},'
                                      '"mime":${mimeType},"v":${x:v}}'}),
        callback_var=b64({"x:v": "ü \"q\""})))
    assert res.status_code == 200
    assert res.callback_result in ('{"v2":"complete"}', {"v2": "complete"})
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert call.json() == {"size": len(a) + len(b), "op": "CompleteMultipartUpload", "md5": "",
                           "mime": "text/csv", "v": "ü \"q\""}
    g = client.get_object(oss.GetObjectRequest(bucket=name, key=key))
    assert g.body.read() == a + b


def test_v2_abort(v2c):
    client, name = v2c
    key = "v2/abort"
    uid = client.initiate_multipart_upload(
        oss.InitiateMultipartUploadRequest(bucket=name, key=key)).upload_id
    client.upload_part(oss.UploadPartRequest(bucket=name, key=key, upload_id=uid, part_number=1,
                                             body=b"x" * 1000))
    res = client.abort_multipart_upload(oss.AbortMultipartUploadRequest(
        bucket=name, key=key, upload_id=uid))
    assert res.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as ei:
        client.list_parts(oss.ListPartsRequest(bucket=name, key=key, upload_id=uid))
    se = ei.value.unwrap()
    assert se.status_code == 404 and se.code == "NoSuchUpload"


# ---------------------------------------------------------------------------
# PostObject

def iso_expiration(seconds):
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def encode_policy(conditions, expires_in=3600, expiration=None):
    policy = {"expiration": expiration or iso_expiration(expires_in), "conditions": conditions}
    return base64.b64encode(json.dumps(policy).encode()).decode()


def v1_post_fields(srv, policy_b64):
    sig = base64.b64encode(hmac.new(srv.sk.encode(), policy_b64.encode(), hashlib.sha1).digest())
    return [("OSSAccessKeyId", srv.ak), ("policy", policy_b64), ("Signature", sig.decode())]


def v4_signing_key(secret, date, region="cn-hangzhou"):
    k = hmac.new(("aliyun_v4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "oss", "aliyun_v4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def v4_post(srv, conditions, expires_in=3600, secret=None):
    """The policy (holding the V4 fields as conditions, as DOC-POST4 shows) and its form fields."""
    now = dt.datetime.now(dt.timezone.utc)
    date = now.strftime("%Y%m%dT%H%M%SZ")
    cred = f"{srv.ak}/{date[:8]}/cn-hangzhou/oss/aliyun_v4_request"
    v4 = [("x-oss-signature-version", "OSS4-HMAC-SHA256"), ("x-oss-credential", cred),
          ("x-oss-date", date)]
    policy_b64 = encode_policy(conditions + [{k: v} for k, v in v4], expires_in)
    sig = hmac.new(v4_signing_key(secret or srv.sk, date[:8]), policy_b64.encode(),
                   hashlib.sha256).hexdigest()
    return [("policy", policy_b64)] + v4 + [("x-oss-signature", sig)]


def post(srv, bucket, fields, file=("f.txt", b"hello", "text/plain"), after=(), url=None):
    parts = [(k, (None, v)) for k, v in fields]
    if file is not None:
        parts.append(("file", file))
    parts += [(k, (None, v)) for k, v in after]
    return requests.post(url or f"{srv.endpoint}/{bucket}/", files=parts, allow_redirects=False,
                         timeout=30)


def err(resp):
    root = ET.fromstring(resp.content)
    assert root.tag == "Error", resp.text
    return {c.tag: c.text or "" for c in root}


def expect_post_error(resp, status, code, message_prefix=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    f = err(resp)
    assert f["Code"] == code, f
    if message_prefix:
        assert f["Message"].startswith(message_prefix), f
    return f


def test_post_v1_default_204(srv, bkt):
    data = os.urandom(5000)
    pol = encode_policy([{"bucket": bkt.bucket_name}, ["eq", "$key", "post/v1.bin"]])
    r = post(srv, bkt.bucket_name, [("key", "post/v1.bin")] + v1_post_fields(srv, pol),
             file=("v1.bin", data, "application/octet-stream"))
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["ETag"] == f'"{md5_etag(data)}"'
    assert r.headers.get("x-oss-hash-crc64ecma") in (None, str(crc64(data)))
    assert bkt.get_object("post/v1.bin").read() == data


def test_post_v4(srv, bkt):
    data = os.urandom(3000)
    fields = [("key", "post/v4.bin"), ("success_action_status", "200")] + v4_post(
        srv, [{"bucket": bkt.bucket_name}, ["starts-with", "$key", "post/"]])
    r = post(srv, bkt.bucket_name, fields, file=("v4.bin", data, "application/octet-stream"))
    assert r.status_code == 200, r.text
    assert r.content == b""
    assert bkt.get_object("post/v4.bin").read() == data


def test_post_v4_bad_signature(srv, bkt):
    fields = [("key", "post/v4bad")] + v4_post(srv, [{"bucket": bkt.bucket_name}],
                                               secret="wrong-secret")
    r = post(srv, bkt.bucket_name, fields)
    assert r.status_code == 403, r.text
    assert err(r)["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    assert not bkt.object_exists("post/v4bad")


def test_post_v1_bad_signature_and_unknown_key(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    fields = v1_post_fields(srv, pol)
    fields[2] = ("Signature", base64.b64encode(b"x" * 20).decode())
    r = post(srv, bkt.bucket_name, [("key", "post/bad")] + fields)
    expect_post_error(r, 403, "SignatureDoesNotMatch")
    fields = v1_post_fields(srv, pol)
    fields[0] = ("OSSAccessKeyId", "LTAInobodyhasthiskey0")
    r = post(srv, bkt.bucket_name, [("key", "post/bad")] + fields)
    expect_post_error(r, 403, "InvalidAccessKeyId")
    assert not bkt.object_exists("post/bad")


@pytest.mark.parametrize("status,code,body", [("200", 200, False), ("201", 201, True),
                                              ("204", 204, False), ("404", 204, False),
                                              ("junk", 204, False)])
def test_post_success_action_status(srv, bkt, status, code, body):
    key = f"post/status-{status}"
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", key), ("success_action_status", status)]
             + v1_post_fields(srv, pol), file=("s.txt", b"status", "text/plain"))
    assert r.status_code == code, r.text
    assert r.headers["ETag"] == f'"{md5_etag(b"status")}"'
    if body:
        root = ET.fromstring(r.content)
        assert root.tag == "PostResponse"
        assert root.findtext("Bucket") == bkt.bucket_name
        assert root.findtext("Key") == key
        assert root.findtext("ETag") == f'"{md5_etag(b"status")}"'
        assert unquote(urlsplit(root.findtext("Location")).path).endswith(f"/{key}")
    else:
        assert r.content == b""
    assert bkt.get_object(key).read() == b"status"


def test_post_success_action_redirect(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    target = "http://127.0.0.1:9/done"
    r = post(srv, bkt.bucket_name, [("key", "post/redir ü.txt"), ("success_action_redirect", target)]
             + v1_post_fields(srv, pol), file=("r.txt", b"redirect", "text/plain"))
    assert r.status_code == 303, r.text
    loc = r.headers["Location"]
    assert loc.startswith(target + "?"), loc
    q = parse_qs(urlsplit(loc).query)
    assert q["bucket"] == [bkt.bucket_name]
    assert q["key"] == ["post/redir ü.txt"]
    assert q["etag"][0].strip('"') == md5_etag(b"redirect")
    assert bkt.get_object("post/redir ü.txt").read() == b"redirect"


def test_post_filename_meta_and_headers(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}, ["starts-with", "$key", "up/"],
                         {"x-oss-meta-owner": "alice"}])
    fields = [("key", "up/${filename}"), ("Content-Type", "text/markdown"),
              ("Cache-Control", "max-age=60"), ("Content-Disposition", "attachment"),
              ("x-oss-meta-owner", "alice"), ("x-oss-meta-note", "two words")]
    r = post(srv, bkt.bucket_name, fields + v1_post_fields(srv, pol),
             file=("notes 1.md", b"# hi", "application/octet-stream"),
             after=[("x-oss-meta-after", "ignored")])
    assert r.status_code == 204, r.text
    got = bkt.get_object("up/notes 1.md")
    assert got.read() == b"# hi"
    assert got.headers["Content-Type"] == "text/markdown"
    assert got.headers["Cache-Control"] == "max-age=60"
    assert got.headers["Content-Disposition"] == "attachment"
    assert got.headers["x-oss-meta-owner"] == "alice"
    assert got.headers["x-oss-meta-note"] == "two words"
    assert "x-oss-meta-after" not in got.headers, "fields after the file are ignored"


def test_post_field_names_case_insensitive(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    (ak, ak_v), (p, p_v), (s, s_v) = v1_post_fields(srv, pol)
    r = post(srv, bkt.bucket_name, [("KEY", "post/case"), ("ossaccesskeyid", ak_v), ("Policy", p_v),
                                    ("signature", s_v), ("SUCCESS_ACTION_STATUS", "201")])
    assert r.status_code == 201, r.text
    assert bkt.get_object("post/case").read() == b"hello"


ACCEPTED = [
    ("exact-map", [{"key": "cond/k1"}]),
    ("eq", [["eq", "$key", "cond/k1"]]),
    ("starts-with", [["starts-with", "$key", "cond/"]]),
    ("starts-with-empty", [["starts-with", "$key", ""]]),
    ("in", [["in", "$content-type", ["image/png", "text/plain"]]]),
    ("not-in", [["not-in", "$cache-control", ["no-cache", "no-store"]]]),
    ("length-range", [["content-length-range", 1, 5]]),
    ("length-range-exact", [["content-length-range", 5, 5]]),
    ("meta", [{"x-oss-meta-tag": "t1"}, ["starts-with", "$x-oss-meta-tag", "t"]]),
]
REFUSED = [
    ("wrong-bucket", [{"bucket": "some-other-bucket"}]),
    ("exact-map", [{"key": "cond/other"}]),
    ("eq", [["eq", "$key", "cond/other"]]),
    ("starts-with", [["starts-with", "$key", "elsewhere/"]]),
    ("in", [["in", "$content-type", ["image/png", "image/jpeg"]]]),
    ("not-in", [["not-in", "$cache-control", ["max-age=10", "no-store"]]]),
    ("meta", [{"x-oss-meta-tag": "t2"}]),
    ("field-missing", [{"x-oss-meta-absent": "v"}]),
]
FORM = [("key", "cond/k1"), ("Content-Type", "text/plain"), ("Cache-Control", "max-age=10"),
        ("x-oss-meta-tag", "t1")]


@pytest.mark.parametrize("name,conds", ACCEPTED, ids=[a[0] for a in ACCEPTED])
@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_policy_condition_accepted(srv, bkt, name, conds, sig):
    conds = [{"bucket": bkt.bucket_name}] + conds
    auth = v1_post_fields(srv, encode_policy(conds)) if sig == "v1" else v4_post(srv, conds)
    r = post(srv, bkt.bucket_name, FORM + auth)
    assert r.status_code == 204, r.text
    assert bkt.get_object("cond/k1").read() == b"hello"


@pytest.mark.parametrize("name,conds", REFUSED, ids=[a[0] for a in REFUSED])
@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_policy_condition_refused(srv, bkt, name, conds, sig):
    if name != "wrong-bucket":
        conds = [{"bucket": bkt.bucket_name}] + conds
    auth = v1_post_fields(srv, encode_policy(conds)) if sig == "v1" else v4_post(srv, conds)
    r = post(srv, bkt.bucket_name, FORM + auth)
    expect_post_error(r, 403, "AccessDenied", "Invalid according to Policy")
    assert not bkt.object_exists("cond/k1")


@pytest.mark.parametrize("size,code", [(11, "EntityTooLarge"), (2, "EntityTooSmall")])
def test_policy_content_length_range(srv, bkt, size, code):
    pol = encode_policy([{"bucket": bkt.bucket_name}, ["content-length-range", 3, 10]])
    r = post(srv, bkt.bucket_name, [("key", "len")] + v1_post_fields(srv, pol),
             file=("l.bin", b"z" * size, "application/octet-stream"))
    expect_post_error(r, 400, code)
    assert not bkt.object_exists("len")


def test_policy_expired(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}], expires_in=-60)
    r = post(srv, bkt.bucket_name, [("key", "expired")] + v1_post_fields(srv, pol))
    expect_post_error(r, 403, "AccessDenied")
    assert not bkt.object_exists("expired")


@pytest.mark.parametrize("policy", [
    base64.b64encode(b"{not json").decode(),
    base64.b64encode(b'{"conditions":[]}').decode(),                          # no expiration
    base64.b64encode(b'{"expiration":"tomorrow","conditions":[]}').decode(),  # bad date
    base64.b64encode(json.dumps({"expiration": iso_expiration(3600),
                                 "conditions": [["bogus-op", "$key", "x"]]}).encode()).decode(),
    "%%% not base64 %%%",
], ids=["not-json", "no-expiration", "bad-expiration", "unknown-op", "not-base64"])
def test_policy_malformed(srv, bkt, policy):
    r = post(srv, bkt.bucket_name, [("key", "malformed")] + v1_post_fields(srv, policy))
    expect_post_error(r, 400, "InvalidPolicyDocument")
    assert not bkt.object_exists("malformed")


def test_post_missing_fields(srv, bkt):
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    full = v1_post_fields(srv, pol)
    # Only some of OSSAccessKeyId / policy / Signature.
    for drop in range(3):
        partial = [f for i, f in enumerate(full) if i != drop]
        r = post(srv, bkt.bucket_name, [("key", "missing")] + partial)
        expect_post_error(r, 400, "InvalidArgument")
    # No key.
    r = post(srv, bkt.bucket_name, full)
    expect_post_error(r, 400, "InvalidArgument")
    # No file.
    r = post(srv, bkt.bucket_name, [("key", "missing")] + full, file=None)
    assert r.status_code == 400, r.text
    assert not bkt.object_exists("missing")


def test_post_anonymous(srv):
    public = oss2_bucket(srv, unique_bucket("prw"))
    public.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    private = oss2_bucket(srv, unique_bucket("prv"))
    private.create_bucket()
    r = post(srv, public.bucket_name, [("key", "anon.txt")], file=("a.txt", b"anon", "text/plain"))
    assert r.status_code == 204, r.text
    assert public.get_object("anon.txt").read() == b"anon"
    r = post(srv, private.bucket_name, [("key", "anon.txt")], file=("a.txt", b"anon", "text/plain"))
    expect_post_error(r, 403, "AccessDenied")
    assert not private.object_exists("anon.txt")


def test_post_host_style(srv, bkt):
    """POST / with Host <bucket>.oss-cn-hangzhou.aliyuncs.com reaches the same bucket."""
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    parts = [(k, (None, v)) for k, v in [("key", "hosted")] + v1_post_fields(srv, pol)]
    parts.append(("file", ("h.txt", b"hosted", "text/plain")))
    r = requests.post(f"{srv.endpoint}/", files=parts, timeout=30,
                      headers={"Host": f"{bkt.bucket_name}.oss-cn-hangzhou.aliyuncs.com"})
    assert r.status_code == 204, r.text
    assert bkt.get_object("hosted").read() == b"hosted"


# -- PostObject with a callback ------------------------------------------------

POST_TEMPLATE = ("bucket=${bucket}&object=${object}&size=${size}&mimeType=${mimeType}"
                 "&etag=${etag}&contentMd5=${contentMd5}&operation=${operation}"
                 "&a=${x:a}&b=${x:b}")


@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_post_with_callback(srv, bkt, rcv, sig):
    rcv.body = b'{"post":"ok","n":1}'
    data = os.urandom(2222)
    cb = b64({"callbackUrl": rcv.url("/post"), "callbackBody": POST_TEMPLATE})
    conds = [{"bucket": bkt.bucket_name}, ["starts-with", "$key", "cb/"]]
    auth = v1_post_fields(srv, encode_policy(conds)) if sig == "v1" else v4_post(srv, conds)
    fields = [("key", "cb/${filename}"), ("Content-Type", "image/x-test"), ("callback", cb),
              ("x:a", "one two&three"), ("x:b", "ü=2")] + auth
    r = post(srv, bkt.bucket_name, fields, file=("pic 1.bin", data, "application/octet-stream"))
    assert r.status_code == 200, r.text
    assert r.content == b'{"post":"ok","n":1}'
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["ETag"] == f'"{md5_etag(data)}"'
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert dict(call.form()) == {
        "bucket": bkt.bucket_name, "object": "cb/pic 1.bin", "size": str(len(data)),
        "mimeType": "image/x-test", "etag": md5_etag(data), "contentMd5": b64md5(data),
        "operation": "PostObject", "a": "one two&three", "b": "ü=2"}
    assert bkt.get_object("cb/pic 1.bin").read() == data


def test_post_callback_var_field_merged_x_wins(srv, bkt, rcv):
    cb = b64({"callbackUrl": rcv.url(), "callbackBody": "a=${x:a}&b=${x:b}",
              "callbackBodyType": "application/x-www-form-urlencoded"})
    var = b64({"x:a": "from-var", "x:b": "from-var"})
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", "merged"), ("callback", cb), ("callback-var", var),
                                    ("x:b", "from-field")] + v1_post_fields(srv, pol))
    assert r.status_code == 200, r.text
    (call,) = rcv.wait_calls(1)
    assert call.body == b"a=from-var&b=from-field"


def test_post_callback_failure_is_203(srv, bkt):
    cb = b64({"callbackUrl": f"http://127.0.0.1:{closed_port()}/", "callbackBody": "a=1"})
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", "cb203"), ("callback", cb)] + v1_post_fields(srv, pol),
             file=("x", b"kept", "text/plain"))
    f = expect_post_error(r, 203, "CallbackFailed")
    assert f["EC"] == "0007-00000203"
    assert bkt.get_object("cb203").read() == b"kept"


@pytest.mark.parametrize("cb,ec", [("!!!not base64", "0007-00000002"),
                                   (b64("{not json"), "0007-00000003"),
                                   (b64({"callbackUrl": "http://127.0.0.1:1/", "callbackBody": ""}),
                                    "0007-00000011")],
                         ids=["not-base64", "not-json", "empty-body"])
def test_post_bad_callback_field(srv, bkt, cb, ec):
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", "badcb"), ("callback", cb)] + v1_post_fields(srv, pol))
    f = expect_post_error(r, 400, "InvalidArgument")
    assert f.get("EC") == ec, f
    assert not bkt.object_exists("badcb")


def test_post_policy_callback_condition(srv, bkt, rcv):
    good = b64({"callbackUrl": rcv.url(), "callbackBody": "a=1"})
    other = b64({"callbackUrl": rcv.url("/other"), "callbackBody": "a=1"})
    pol = encode_policy([{"bucket": bkt.bucket_name}, {"callback": good}])
    r = post(srv, bkt.bucket_name, [("key", "pcb"), ("callback", other)] + v1_post_fields(srv, pol))
    expect_post_error(r, 403, "AccessDenied", "Invalid according to Policy")
    assert rcv.connections == 0 and not bkt.object_exists("pcb")
    r = post(srv, bkt.bucket_name, [("key", "pcb"), ("callback", good)] + v1_post_fields(srv, pol))
    assert r.status_code == 200 and r.content == b'{"Status":"OK"}', r.text
