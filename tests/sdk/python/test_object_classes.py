"""Symlinks, storage classes with RestoreObject, and server-side encryption headers, through oss2
(V1 and V4) and alibabacloud-oss-v2 against a real ossd (restore delay: the default 1 s)."""

import time

import oss2
import pytest
from oss2.models import BucketCreateConfig, ServerSideEncryptionRule

import alibabacloud_oss_v2 as oss

from conftest import oss2_bucket, v2_client
from ossd_helpers import unique_bucket

RESTORE_WAIT = 1.5  # seconds: the server's default restore delay (1 s) and a margin


def oss2_error(fn, status, code):
    with pytest.raises(oss2.exceptions.OssError) as ei:
        fn()
    assert (ei.value.status, ei.value.code) == (status, code), repr(ei.value)
    return ei.value


# ---------------------------------------------------------------------------
# Symlinks


def test_symlink_answers_for_its_target(bucket):
    bucket.put_object("dir/target.txt", b"hello symlink", headers={"Content-Type": "text/plain"})
    headers = {
        "x-oss-meta-who": "link",
        "x-oss-object-acl": "public-read",
        "x-oss-storage-class": "IA",
        "x-oss-tagging": "a=1&b=two",
    }
    bucket.put_symlink("dir/target.txt", "link", headers=headers)
    assert bucket.get_symlink("link").target_key == "dir/target.txt"
    head = bucket.head_object("link")
    assert head.object_type == "Symlink"
    assert head.content_length == len(b"hello symlink")
    assert head.etag == bucket.head_object("dir/target.txt").etag
    assert bucket.get_object("link").read() == b"hello symlink"
    assert bucket.get_object_acl("link").acl == "public-read"
    assert {t: v for t, v in bucket.get_object_tagging("link").tag_set.tagging_rule.items()} == {"a": "1", "b": "two"}
    raw = bucket.get_symlink("link").headers
    assert raw["x-oss-meta-who"] == "link"
    listed = {o.key: o for o in bucket.list_objects().object_list}
    assert listed["link"].type == "Symlink"
    assert listed["link"].storage_class == "IA"
    assert listed["dir/target.txt"].type == "Normal"
    v2listed = {o.key: o for o in oss2.ObjectIteratorV2(bucket)}
    assert v2listed["link"].type == "Symlink"


def test_symlink_copy_unicode_overwrite_and_errors(bucket):
    bucket.put_object("目标/文件 1.txt", b"unicode bytes")
    bucket.put_symlink("目标/文件 1.txt", "链接")
    assert bucket.get_symlink("链接").target_key == "目标/文件 1.txt"
    assert bucket.get_object("链接").read() == b"unicode bytes"
    # CopyObject of a symlink copies the target's bytes into a plain object.
    bucket.copy_object(bucket.bucket_name, "链接", "copy")
    assert bucket.get_object("copy").read() == b"unicode bytes"
    assert bucket.head_object("copy").object_type != "Symlink"
    # x-oss-forbid-overwrite
    oss2_error(lambda: bucket.put_symlink("copy", "链接", headers={"x-oss-forbid-overwrite": "true"}),
               409, "FileAlreadyExists")
    # tagging validation
    oss2_error(lambda: bucket.put_symlink("copy", "bad", headers={"x-oss-tagging": "a=1&a=2"}), 400, "InvalidTag")
    # GetSymlink of a plain object
    oss2_error(lambda: bucket.get_symlink("copy"), 400, "NotSymlink")
    # A dangling symlink answers NoSuchKey with OSS's EC.
    bucket.put_symlink("missing-target", "dangling")
    e = oss2_error(lambda: bucket.get_object("dangling"), 404, "NoSuchKey")
    assert e.ec == "0026-00000012"
    oss2_error(lambda: bucket.head_object("dangling"), 404, "NoSuchKey")
    assert bucket.get_symlink("dangling").target_key == "missing-target"
    oss2_error(lambda: bucket.get_symlink("nothing"), 404, "NoSuchKey")


def test_symlink_v2(v2, v2_bucket):
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="t", body=b"v2 target"))
    v2.put_symlink(oss.PutSymlinkRequest(bucket=v2_bucket, key="l", target="t", storage_class="Standard",
                                         metadata={"k": "v"}))
    r = v2.get_symlink(oss.GetSymlinkRequest(bucket=v2_bucket, key="l"))
    assert r.target == "t"
    assert r.metadata.get("k") == "v"
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="l"))
    assert h.object_type == "Symlink" and h.content_length == 9
    g = v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="l"))
    assert g.body.read() == b"v2 target"


# ---------------------------------------------------------------------------
# Storage classes and RestoreObject


def test_storage_class_headers_listings_and_bucket_default(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("sc"), auth_version)
    b.create_bucket(input=BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    b.put_object("default", b"x")
    b.put_object("std", b"x", headers={"x-oss-storage-class": "Standard"})
    assert b.head_object("default").resp.headers["x-oss-storage-class"] == "IA"
    assert b.head_object("std").resp.headers["x-oss-storage-class"] == "Standard"
    classes = {o.key: o.storage_class for o in b.list_objects().object_list}
    assert classes == {"default": "IA", "std": "Standard"}
    classes = {o.key: o.storage_class for o in oss2.ObjectIteratorV2(b)}
    assert classes == {"default": "IA", "std": "Standard"}
    # CopyObject sets the destination's class.
    b.copy_object(b.bucket_name, "std", "std", headers={"x-oss-storage-class": "Archive"})
    assert b.head_object("std").resp.headers["x-oss-storage-class"] == "Archive"
    oss2_error(lambda: b.put_object("bad", b"x", headers={"x-oss-storage-class": "Glacier"}),
               400, "InvalidStorageClass")
    # Multipart: the class given at initiation.
    up = b.init_multipart_upload("mp", headers={"x-oss-storage-class": "ColdArchive"}).upload_id
    part = b.upload_part("mp", up, 1, b"part")
    b.complete_multipart_upload("mp", up, [oss2.models.PartInfo(1, part.etag)])
    assert b.head_object("mp").resp.headers["x-oss-storage-class"] == "ColdArchive"


def test_archive_needs_restore(bucket):
    bucket.put_object("frozen", b"cold bytes", headers={"x-oss-storage-class": "Archive"})
    assert bucket.head_object("frozen").resp.headers["x-oss-storage-class"] == "Archive"
    oss2_error(lambda: bucket.get_object("frozen"), 403, "InvalidObjectState")
    oss2_error(lambda: bucket.copy_object(bucket.bucket_name, "frozen", "c"), 403, "InvalidObjectState")
    assert bucket.restore_object("frozen").status == 202
    oss2_error(lambda: bucket.restore_object("frozen"), 409, "RestoreAlreadyInProgress")
    assert bucket.head_object("frozen").resp.headers["x-oss-restore"] == 'ongoing-request="true"'
    info = {o.key: o.restore_info for o in bucket.list_objects().object_list}
    assert info["frozen"] == 'ongoing-request="true"'
    oss2_error(lambda: bucket.get_object("frozen"), 403, "InvalidObjectState")
    time.sleep(RESTORE_WAIT)
    restore = bucket.head_object("frozen").resp.headers["x-oss-restore"]
    assert restore.startswith('ongoing-request="false", expiry-date="') and restore.endswith('GMT"')
    assert bucket.get_object("frozen").read() == b"cold bytes"
    assert bucket.restore_object("frozen").status == 200
    restore = bucket.head_object("frozen").resp.headers["x-oss-restore"]
    info = {o.key: o.restore_info for o in oss2.ObjectIteratorV2(bucket)}
    assert info["frozen"] == restore
    bucket.put_object("warm", b"x")
    oss2_error(lambda: bucket.restore_object("warm"), 400, "OperationNotSupported")
    oss2_error(lambda: bucket.restore_object("none"), 404, "NoSuchKey")


def test_cold_archive_restore_v2(v2, v2_bucket):
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="cold", body=b"deep", storage_class="ColdArchive"))
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="cold"))
    assert h.storage_class == "ColdArchive" and h.restore is None
    req = oss.RestoreRequest(days=3, job_parameters=oss.JobParameters(tier="Expedited"))
    r = v2.restore_object(oss.RestoreObjectRequest(bucket=v2_bucket, key="cold", restore_request=req))
    assert r.status_code == 202 and r.restore_priority == "Expedited"
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.restore_object(oss.RestoreObjectRequest(bucket=v2_bucket, key="cold"))
    assert ei.value.unwrap().code == "RestoreAlreadyInProgress"
    page = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=v2_bucket))
    assert page.contents[0].restore_info == 'ongoing-request="true"'
    assert page.contents[0].storage_class == "ColdArchive"
    time.sleep(RESTORE_WAIT)
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="cold"))
    assert h.restore.startswith('ongoing-request="false"')
    assert v2.get_object(oss.GetObjectRequest(bucket=v2_bucket, key="cold")).body.read() == b"deep"
    bad = oss.RestoreRequest(days=1, job_parameters=oss.JobParameters(tier="Bulk"))
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="deep", body=b"d", storage_class="DeepColdArchive"))
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.restore_object(oss.RestoreObjectRequest(bucket=v2_bucket, key="deep", restore_request=bad))
    assert ei.value.unwrap().status_code == 400
    # ListParts shows the upload's class.
    up = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=v2_bucket, key="mp", storage_class="IA")).upload_id
    v2.upload_part(oss.UploadPartRequest(bucket=v2_bucket, key="mp", upload_id=up, part_number=1, body=b"p"))
    parts = v2.list_parts(oss.ListPartsRequest(bucket=v2_bucket, key="mp", upload_id=up))
    assert parts.storage_class == "IA"


# ---------------------------------------------------------------------------
# Server-side encryption


def test_sse_headers_on_writes_and_reads(bucket):
    r = bucket.put_object("aes", b"x", headers={"x-oss-server-side-encryption": "AES256"})
    assert r.headers["x-oss-server-side-encryption"] == "AES256"
    head = bucket.head_object("aes")
    assert head.resp.headers["x-oss-server-side-encryption"] == "AES256"
    assert bucket.get_object("aes").headers["x-oss-server-side-encryption"] == "AES256"
    kms = {"x-oss-server-side-encryption": "KMS", "x-oss-server-side-encryption-key-id": "key-9",
           "x-oss-server-side-data-encryption": "SM4"}
    bucket.put_object("kms", b"x", headers=kms)
    h = bucket.head_object("kms").resp.headers
    assert (h["x-oss-server-side-encryption"], h["x-oss-server-side-encryption-key-id"],
            h["x-oss-server-side-data-encryption"]) == ("KMS", "key-9", "SM4")
    plain = bucket.put_object("plain", b"x")
    assert "x-oss-server-side-encryption" not in plain.headers
    oss2_error(lambda: bucket.put_object("bad", b"x", headers={"x-oss-server-side-encryption": "DES"}),
               400, "InvalidEncryptionAlgorithmError")
    # CopyObject takes the request's encryption.
    c = bucket.copy_object(bucket.bucket_name, "plain", "copied", headers={"x-oss-server-side-encryption": "SM4"})
    assert c.headers["x-oss-server-side-encryption"] == "SM4"
    assert bucket.head_object("copied").resp.headers["x-oss-server-side-encryption"] == "SM4"
    # Multipart: given at initiation, returned on UploadPart and CompleteMultipartUpload.
    init = bucket.init_multipart_upload("mp", headers={"x-oss-server-side-encryption": "AES256"})
    assert init.headers["x-oss-server-side-encryption"] == "AES256"
    part = bucket.upload_part("mp", init.upload_id, 1, b"p")
    assert part.headers["x-oss-server-side-encryption"] == "AES256"
    done = bucket.complete_multipart_upload("mp", init.upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert done.headers["x-oss-server-side-encryption"] == "AES256"


def test_bucket_encryption_default(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("enc"), auth_version)
    b.create_bucket()
    oss2_error(lambda: b.get_bucket_encryption(), 404, "NoSuchServerSideEncryptionRule")
    assert b.get_bucket_info().bucket_encryption_rule.sse_algorithm is None
    rule = ServerSideEncryptionRule()
    rule.sse_algorithm = "KMS"
    rule.kms_master_keyid = "master-1"
    b.put_bucket_encryption(rule)
    got = b.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid) == ("KMS", "master-1")
    info = b.get_bucket_info().bucket_encryption_rule
    assert (info.sse_algorithm, info.kms_master_keyid) == ("KMS", "master-1")
    b.put_object("o", b"x")
    h = b.head_object("o").resp.headers
    assert (h["x-oss-server-side-encryption"], h["x-oss-server-side-encryption-key-id"]) == ("KMS", "master-1")
    # A request's own header wins over the default.
    b.put_object("own", b"x", headers={"x-oss-server-side-encryption": "AES256"})
    assert b.head_object("own").resp.headers["x-oss-server-side-encryption"] == "AES256"
    b.delete_bucket_encryption()
    oss2_error(lambda: b.get_bucket_encryption(), 404, "NoSuchServerSideEncryptionRule")
    b.put_object("after", b"x")
    assert "x-oss-server-side-encryption" not in b.head_object("after").resp.headers
    # PutBucket with the header sets the default.
    b2 = oss2_bucket(ossd, unique_bucket("enc"), auth_version)
    b2.create_bucket(headers={"x-oss-server-side-encryption": "SM4"})
    assert b2.get_bucket_encryption().sse_algorithm == "SM4"
    assert b2.get_bucket_info().bucket_encryption_rule.sse_algorithm == "SM4"


def test_bucket_encryption_v2(v2, v2_bucket):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=v2_bucket))
    assert ei.value.unwrap().code == "NoSuchServerSideEncryptionRule"
    rule = oss.ServerSideEncryptionRule(apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
        sse_algorithm="KMS", kms_data_encryption="SM4"))
    v2.put_bucket_encryption(oss.PutBucketEncryptionRequest(bucket=v2_bucket, server_side_encryption_rule=rule))
    got = v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=v2_bucket))
    d = got.server_side_encryption_rule.apply_server_side_encryption_by_default
    assert (d.sse_algorithm, d.kms_data_encryption) == ("KMS", "SM4")
    v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="o", body=b"x"))
    h = v2.head_object(oss.HeadObjectRequest(bucket=v2_bucket, key="o"))
    assert (h.server_side_encryption, h.server_side_data_encryption) == ("KMS", "SM4")
    r = v2.put_object(oss.PutObjectRequest(bucket=v2_bucket, key="a", body=b"x", server_side_encryption="AES256"))
    assert r.headers.get("x-oss-server-side-encryption") == "AES256"
    v2.delete_bucket_encryption(oss.DeleteBucketEncryptionRequest(bucket=v2_bucket))
    with pytest.raises(oss.exceptions.OperationError):
        v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=v2_bucket))


# ---------------------------------------------------------------------------
# PostObject


def test_post_object_storage_class_and_encryption(ossd, bucket_v1):
    from test_multipart_post import encode_policy, post, v1_post_fields

    name = bucket_v1.bucket_name
    pol = encode_policy([{"bucket": name}, ["starts-with", "$key", "post/"]])
    fields = [("key", "post/cls"), ("x-oss-storage-class", "IA"), ("x-oss-server-side-encryption", "SM4")]
    r = post(ossd, name, fields + v1_post_fields(ossd, pol))
    assert r.status_code == 204, r.text
    assert r.headers["x-oss-server-side-encryption"] == "SM4"
    h = bucket_v1.head_object("post/cls").resp.headers
    assert (h["x-oss-storage-class"], h["x-oss-server-side-encryption"]) == ("IA", "SM4")
    r = post(ossd, name, [("key", "post/bad"), ("x-oss-storage-class", "Nope")] + v1_post_fields(ossd, pol))
    assert r.status_code == 400 and b"InvalidStorageClass" in r.content, r.text


def test_archive_meta_and_part_copy(bucket):
    bucket.put_object("arch", b"archived part source", headers={"x-oss-storage-class": "DeepColdArchive"})
    # Metadata reads need no restore; GetObjectMeta shows no class (neither SDK parses one).
    assert bucket.get_object_meta("arch").content_length == len(b"archived part source")
    up = bucket.init_multipart_upload("dst").upload_id
    oss2_error(lambda: bucket.upload_part_copy(bucket.bucket_name, "arch", (0, 3), "dst", up, 1),
               403, "InvalidObjectState")
    bucket.abort_multipart_upload("dst", up)


def test_put_bucket_kms_headers(ossd, auth_version):
    b = oss2_bucket(ossd, unique_bucket("kms"), auth_version)
    b.create_bucket(headers={"x-oss-server-side-encryption": "KMS",
                             "x-oss-server-side-encryption-key-id": "bucket-key",
                             "x-oss-server-side-data-encryption": "SM4"})
    got = b.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid, got.kms_data_encryption) == ("KMS", "bucket-key", "SM4")
    info = b.get_bucket_info().bucket_encryption_rule
    assert (info.sse_algorithm, info.kms_master_keyid, info.kms_data_encryption) == ("KMS", "bucket-key", "SM4")
    b2 = oss2_bucket(ossd, unique_bucket("kms"), auth_version)
    oss2_error(lambda: b2.create_bucket(headers={"x-oss-server-side-encryption-key-id": "k"}),
               400, "InvalidArgument")
