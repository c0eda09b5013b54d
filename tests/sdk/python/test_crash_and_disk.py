"""Crashes and a full disk, through a real `ossd serve` process and oss2.

- SIGKILL mid-stream: writers upload known contents; the server is killed while uploads are in
  flight and restarted on the same data directory. Every acknowledged write reads back whole
  (or as a later write of the same key), no key reads back torn or foreign bytes, and after the
  start-up sweep every blob file is referenced and every referenced blob exists.
- SIGKILL amid callback uploads: every acknowledged upload reads back whole and keeps its log
  entry, `pending` (its outcome was lost with the process) or the outcome it was answered.
- A full disk: a small tmpfs made by the test. Uploads past the limit get OSS error XML
  (507 InsufficientStorage), leave no partial blob, the server keeps serving, deletes still
  commit on a disk filled to the last byte, and uploads succeed again once space is freed.
"""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import oss2
import pytest
import requests

from conftest import oss2_bucket
from ossd_helpers import OssdServer, crc64, error_fields, ossd_binary, unique_bucket
from receivers import Receiver, b64, closed_port

# Manages its own processes and looks at their data directories.
pytestmark = pytest.mark.single_node


def content(key, version):
    """The bytes of `version` of `key`: self-describing, so a read tells which it is."""
    size = [900, 40 * 1024, 700 * 1024, 2 * 1024 * 1024 + 7][version % 4]
    head = f"{key}:{version}:".encode()
    seed = hashlib.sha256(head).digest()
    return (head + seed * (size // 32 + 1))[:size]


def version_of(key, body):
    prefix = f"{key}:".encode()
    assert body.startswith(prefix), f"{key}: foreign bytes"
    v = int(body[len(prefix):].split(b":", 1)[0])
    assert body == content(key, v), f"{key}: torn body of version {v}"
    return v


def blob_files(data_dir):
    return {p.name for p in (Path(data_dir) / "blobs").glob("*/*") if p.is_file()}


def referenced_blobs(data_dir):
    db = sqlite3.connect(f"file:{Path(data_dir) / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT blob FROM blob_refs")}
    finally:
        db.close()


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path):
    data_dir = tmp_path / "data"
    server = OssdServer(data_dir)
    server.start()
    name = unique_bucket("kill")
    b = oss2_bucket(server, name, connect_timeout=10)
    b.create_bucket()
    keys = [f"k{i}" for i in range(12)]
    acked = {}  # key -> highest acknowledged version
    lock = threading.Lock()
    stop = threading.Event()

    def writer(my_keys):
        v = 0
        while not stop.is_set():
            for key in my_keys:
                v += 1
                try:
                    if v % 5 == 0 and len(content(key, v)) > 200 * 1024:
                        # A multipart upload now and then: several segments per object.
                        data = content(key, v)
                        up = b.init_multipart_upload(key).upload_id
                        half = len(data) // 2
                        e1 = b.upload_part(key, up, 1, data[:half]).etag
                        e2 = b.upload_part(key, up, 2, data[half:]).etag
                        b.complete_multipart_upload(
                            key, up, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)])
                    else:
                        b.put_object(key, content(key, v))
                except (oss2.exceptions.RequestError, oss2.exceptions.OssError, requests.RequestException):
                    if stop.is_set():
                        return
                    continue
                with lock:
                    acked[key] = max(acked.get(key, 0), v)

    threads = [threading.Thread(target=writer, args=(keys[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(4)
    # Kill while uploads are in flight: there are four writers, always mid-request.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    server.proc = None
    assert acked, "no upload was acknowledged before the kill"

    server.start()
    try:
        b = oss2_bucket(server, name)
        for key in keys:
            try:
                r = b.get_object(key)
            except oss2.exceptions.NoSuchKey:
                assert key not in acked, f"{key}: acknowledged version {acked[key]} is lost"
                continue
            body = r.read()
            assert len(body) == r.content_length
            v = version_of(key, body)
            # A later write may have committed without its answer reaching the client.
            assert v >= acked.get(key, 0), f"{key}: version {v} older than acknowledged {acked[key]}"
            assert int(r.headers["x-oss-hash-crc64ecma"]) == crc64(body)
    finally:
        assert server.stop() == 0
    files, referenced = blob_files(data_dir), referenced_blobs(data_dir)
    assert files - referenced == set(), "blob files nothing references survived the start-up sweep"
    assert referenced - files == set(), "metadata references blobs that are missing"



def callback_log(data_dir, bucket):
    """{request id: (outcome, object)} of `ossd callbacks list` over a stopped server's data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    p = subprocess.run([str(ossd_binary()), "callbacks", "list", "--data", str(data_dir),
                        "--bucket", bucket, "--limit", "100000"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    log = {}
    for line in p.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].startswith(f"{bucket}/"):
            log[fields[1]] = (fields[2], fields[3][len(bucket) + 1:])
    return log


def test_sigkill_during_callback_uploads_keeps_objects_and_their_log_entries(tmp_path):
    """A callback upload commits its object with a `pending` log entry; the outcome is written
    later and may join the next commit (ossd-store's detached writes). A SIGKILL amid callback
    uploads may lose an outcome, never the object or its entry: after a restart, every
    acknowledged upload reads back whole, its entry is in the log as `pending` or with the very
    outcome the uploader was answered, and every entry in the log has its object."""
    data_dir = tmp_path / "data"
    server = OssdServer(data_dir, extra_args=["--callback-timeout-ms", "2000"])
    server.start()
    name = unique_bucket("cbkill")
    b = oss2_bucket(server, name, connect_timeout=10)
    b.create_bucket()
    down = closed_port()
    acked = {}  # request id -> (key, status)
    lock = threading.Lock()
    stop = threading.Event()

    def body_of(key):
        seed = hashlib.sha256(key.encode()).digest()
        return (key.encode() + b":" + seed * 200)[: 700 + len(key) * 97]

    with Receiver(body=b'{"stored":true}') as up:
        def writer(w):
            n = 0
            while not stop.is_set():
                n += 1
                key = f"w{w}/{n}"
                # One upload in four calls a port nobody listens on: answered 203.
                url = f"http://127.0.0.1:{down}/cb" if n % 4 == 0 else up.url()
                cb = {"callbackUrl": url, "callbackBody": "o=${object}&s=${size}"}
                try:
                    r = b.put_object(key, body_of(key), headers={"x-oss-callback": b64(cb)})
                except (oss2.exceptions.RequestError, oss2.exceptions.OssError, requests.RequestException):
                    if stop.is_set():
                        return
                    continue
                with lock:
                    acked[r.request_id] = (key, r.status)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        time.sleep(4)
        # Six writers, always mid-request: some objects are being published, some callbacks
        # are being delivered, some outcomes have not been committed yet.
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    server.proc = None
    assert len(acked) >= 20, f"only {len(acked)} uploads were acknowledged before the kill"
    assert {s for _, s in acked.values()} == {200, 203}, "both outcomes should have been answered"

    server.start()
    try:
        b = oss2_bucket(server, name)
        for rid, (key, status) in acked.items():
            assert b.get_object(key).read() == body_of(key), f"{key} ({status}) lost or torn"
    finally:
        assert server.stop() == 0

    log = callback_log(data_dir, name)
    pending = 0
    for rid, (key, status) in acked.items():
        assert rid in log, f"the log lost the entry of acknowledged upload {key} ({rid})"
        outcome, obj = log[rid]
        assert obj == key, (rid, obj, key)
        assert outcome in ("pending", str(status)), f"{key}: answered {status}, logged {outcome}"
        pending += outcome == "pending"
    server.start()
    try:
        b = oss2_bucket(server, name)
        # Entries of uploads whose answer never reached the client still have their object.
        for rid, (outcome, obj) in log.items():
            if rid not in acked:
                assert b.get_object(obj).read() == body_of(obj), f"{obj}: logged ({outcome}) without its object"
    finally:
        assert server.stop() == 0
    print(f"{len(acked)} acknowledged callback uploads, {pending} of them left pending by the kill, "
          f"{len(log) - len(acked)} entries of unanswered uploads")

# ---------------------------------------------------------------------------- disk full ---

DISK_MB = 48


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("the disk-full test mounts a tmpfs and needs root (CI runs as root)")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full(small_disk):
    data_dir = small_disk / "data"
    server = OssdServer(data_dir)
    server.start()
    try:
        name = unique_bucket("full")
        b = oss2_bucket(server, name)
        b.create_bucket()
        chunk = 3 * 1024 * 1024
        stored = []
        refused = None
        for i in range(40):
            data = os.urandom(chunk)
            try:
                b.put_object(f"o{i}", data)
                stored.append((f"o{i}", data))
            except oss2.exceptions.OssError as e:
                refused = e
                break
        assert refused is not None, "the disk never filled"
        assert (refused.status, refused.code) == (507, "InsufficientStorage"), (refused.status, refused.code)
        assert len(stored) >= 5
        # The partial blob went: what is on disk is what is stored.
        on_disk = sum(p.stat().st_size for p in (data_dir / "blobs").glob("*/*"))
        assert on_disk == len(stored) * chunk, (on_disk, len(stored))
        # A streamed (chunked) upload fails the same way.
        def gen():
            for _ in range(20):
                yield os.urandom(1024 * 1024)
        with pytest.raises(oss2.exceptions.OssError) as chunked:
            b.put_object("chunked", gen())
        assert (chunked.value.status, chunked.value.code) == (507, "InsufficientStorage")
        on_disk = sum(p.stat().st_size for p in (data_dir / "blobs").glob("*/*"))
        assert on_disk == len(stored) * chunk, (on_disk, len(stored))
        # The server still serves.
        assert b.get_object(stored[0][0]).read() == stored[0][1]

        # Fill the disk to the last byte with a file of our own: metadata writes now need the
        # reserve ossd keeps, and deletes must still commit.
        filler = small_disk / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        for key, _ in stored[:3]:
            b.delete_object(key)
            assert not b.object_exists(key)
        filler.unlink()
        # Space is back: uploads succeed again, and what was kept is intact.
        data = os.urandom(chunk)
        b.put_object("after", data)
        assert b.get_object("after").read() == data
        for key, expect in stored[3:]:
            r = b.get_object(key)
            body = r.read()
            assert body == expect and int(r.headers["x-oss-hash-crc64ecma"]) == crc64(expect)
    finally:
        server.stop()


def test_disk_full_error_is_oss_xml(small_disk):
    """The refusal a client sees is OSS error XML with the code, request id and host."""
    data_dir = small_disk / "data"
    server = OssdServer(data_dir)
    server.start()
    try:
        name = unique_bucket("fullxml")
        b = oss2_bucket(server, name)
        b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
        big = os.urandom((DISK_MB + 8) * 1024 * 1024)
        r = requests.put(f"{server.endpoint}/{name}/too-big", data=big, timeout=60)
        assert r.status_code == 507, r.status_code
        err = error_fields(r.content)
        assert err["Code"] == "InsufficientStorage"
        assert err["RequestId"] == r.headers["x-oss-request-id"]
        assert not any((data_dir / "blobs").glob("*/*")), "the partial blob was left behind"
        b.put_object("small", b"fits")
        assert b.get_object("small").read() == b"fits"
    finally:
        server.stop()


def test_disk_full_on_upload_part_append_and_post_object(small_disk):
    """UploadPart, AppendObject and PostObject share the body path: each answers 507
    InsufficientStorage XML on a full disk, leaves no partial blob, and publishes nothing."""
    data_dir = small_disk / "data"
    server = OssdServer(data_dir)
    server.start()
    try:
        name = unique_bucket("fullpaths")
        b = oss2_bucket(server, name)
        b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
        big = os.urandom((DISK_MB + 8) * 1024 * 1024)
        blobs_before = set((data_dir / "blobs").glob("*/*"))

        def assert_507(resp):
            assert resp.status_code == 507, (resp.status_code, resp.content[:300])
            assert error_fields(resp.content)["Code"] == "InsufficientStorage"
            assert set((data_dir / "blobs").glob("*/*")) == blobs_before, "a partial blob was left behind"

        upload_id = b.init_multipart_upload("mp").upload_id
        assert_507(requests.put(f"{server.endpoint}/{name}/mp", params={"partNumber": "1", "uploadId": upload_id},
                                data=big, timeout=60))
        assert b.list_parts("mp", upload_id).parts == []
        assert_507(requests.post(f"{server.endpoint}/{name}/ap", params={"append": "", "position": "0"},
                                 data=big, timeout=60))
        assert not b.object_exists("ap")
        form = {"key": "posted"}
        assert_507(requests.post(f"{server.endpoint}/{name}", data=form, files={"file": ("f", big)}, timeout=60))
        assert not b.object_exists("posted")
        b.put_object("small", b"fits")
        assert b.get_object("small").read() == b"fits"
    finally:
        server.stop()


# ------------------------------------------------------- relaxed durability, lost bytes ---

def segments_of(data_dir, key):
    import json
    db = sqlite3.connect(f"file:{Path(data_dir) / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        (segs,) = db.execute("SELECT segments FROM objects WHERE key = ?", (key.encode(),)).fetchone()
    finally:
        db.close()
    return [s["blob"] for s in json.loads(segs)]


def blob_path(data_dir, blob):
    return Path(data_dir) / "blobs" / blob[:2] / blob


def test_relaxed_unclean_stop_never_serves_torn_objects(tmp_path):
    """With --durability relaxed a power cut may lose the bytes of recent uploads while their
    metadata survives. Simulated here by truncating and removing blob files of a killed server:
    a torn object answers an error (never 200 with a short body) while running, and after the
    restart the start-up check removes it (NoSuchKey) and keeps the intact ones."""
    data_dir = tmp_path / "data"
    server = OssdServer(data_dir, extra_args=["--durability", "relaxed"])
    server.start()
    name = unique_bucket("torn")
    b = oss2_bucket(server, name)
    b.create_bucket()
    short = os.urandom(300 * 1024)
    b.put_object("short", short)
    p1, p2 = os.urandom(200 * 1024), os.urandom(50 * 1024)
    up = b.init_multipart_upload("gone").upload_id
    e1 = b.upload_part("gone", up, 1, p1).etag
    e2 = b.upload_part("gone", up, 2, p2).etag
    b.complete_multipart_upload("gone", up, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)])
    kept = os.urandom(100 * 1024)
    b.put_object("kept", kept)

    # While running: a blob cut short under a live record is an error answer.
    (short_blob,) = segments_of(data_dir, "short")
    with open(blob_path(data_dir, short_blob), "r+b") as f:
        f.truncate(1000)
    with pytest.raises(oss2.exceptions.OssError) as e:
        b.get_object("short").read()
    assert e.value.status == 500
    r = requests.get(f"{server.endpoint}/{name}/short", timeout=10)
    assert r.status_code in (403, 500)

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    gone_blobs = segments_of(data_dir, "gone")
    blob_path(data_dir, gone_blobs[1]).unlink()

    server.start()
    try:
        b = oss2_bucket(server, name)
        for key in ("short", "gone"):
            with pytest.raises(oss2.exceptions.NoSuchKey):
                b.get_object(key)
        assert b.get_object("kept").read() == kept
        assert "lost in an unclean stop" in server.stderr_path.read_text()
    finally:
        assert server.stop() == 0
    files, referenced = blob_files(data_dir), referenced_blobs(data_dir)
    assert files == referenced, (files - referenced, referenced - files)
