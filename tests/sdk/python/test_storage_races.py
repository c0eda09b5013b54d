"""Storage soundness under concurrency, through a real `ossd serve` and oss2.

Every case races real requests against one server whose orphan sweep runs every second with no
idle margin (so the sweep races everything too), then checks the promise: every acknowledged
object reads back whole with its acknowledged ETag and CRC-64, unless a later acknowledged
request deleted or replaced it; every GET that answered 200 delivered exactly Content-Length
bytes of one version. Rounds are bounded (OSSD_RACE_ROUNDS scales them) so the suite takes a
couple of minutes on 2 cores.
"""

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import oss2
import pytest

from conftest import oss2_bucket
from ossd_helpers import OssdServer, crc64, md5_etag, unique_bucket

SCALE = float(os.environ.get("OSSD_RACE_ROUNDS", "1"))


def rounds(n):
    return max(1, int(n * SCALE))


# OSSD_RACE_ARGS replaces the sweep flags (e.g. to run the suite against an older build).
RACE_ARGS = os.environ.get("OSSD_RACE_ARGS", "--sweep-interval-secs 1 --sweep-idle-secs 0").split()


@pytest.fixture(scope="module")
def racy(tmp_path_factory):
    server = OssdServer(tmp_path_factory.mktemp("races") / "data",
                        extra_args=["--durability", "relaxed", *RACE_ARGS])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rb(racy):
    b = oss2_bucket(racy, unique_bucket("race"), connect_timeout=30)
    b.create_bucket()
    return b


def race(*fns):
    """Runs the functions at the same moment on their own threads; returns their outcomes
    (a value or the exception raised)."""
    barrier = threading.Barrier(len(fns))

    def run(fn):
        barrier.wait()
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - the outcome is the exception
            return e

    with ThreadPoolExecutor(len(fns)) as pool:
        return [f.result() for f in [pool.submit(run, fn) for fn in fns]]


def status_of(outcome):
    if isinstance(outcome, oss2.exceptions.OssError):
        return outcome.status, outcome.code
    if isinstance(outcome, Exception):
        raise outcome
    return 200, None


def read_whole(bucket, key):
    """GET: body, ETag and CRC header; asserts the body is exactly Content-Length bytes."""
    r = bucket.get_object(key)
    body = r.read()
    assert len(body) == r.content_length, f"{key}: {len(body)} of {r.content_length} bytes"
    return body, r.etag, int(r.headers["x-oss-hash-crc64ecma"])


def intact(bucket, key, expected):
    """None if `key` reads back as exactly `expected`, else what went wrong."""
    try:
        body, _etag, crc = read_whole(bucket, key)
    except AssertionError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a read that breaks off is what this looks for
        return f"{key}: {type(e).__name__} {getattr(e, 'status', '')} {getattr(e, 'code', '')}"
    if body != expected:
        return f"{key}: foreign bytes"
    if crc != crc64(expected):
        return f"{key}: CRC header does not match"
    return None


def assert_intact(bucket, key, expected):
    problem = intact(bucket, key, expected)
    assert problem is None, problem


def report(name, failures, total, seen):
    print(f"{name}: {seen}; {len(failures)} of {total} rounds broke the promise")
    assert not failures, f"{name}: {len(failures)} of {total} rounds broke the promise, e.g. {failures[:3]}"


def test_copy_racing_delete_of_its_source(rb):
    answered = {"copied": 0, "gone": 0}
    failures = []
    n = rounds(150)
    for i in range(n):
        data = os.urandom(8 * 1024 + i)
        rb.put_object(f"src{i}", data)
        copy, delete = race(lambda: rb.copy_object(rb.bucket_name, f"src{i}", f"dst{i}"),
                            lambda: rb.delete_object(f"src{i}"))
        assert status_of(delete)[0] == 204 or status_of(delete)[0] == 200
        st = status_of(copy)
        if st[0] == 200:
            answered["copied"] += 1
            assert copy.etag == md5_etag(data)
            problem = intact(rb, f"dst{i}", data)
            if problem:
                failures.append(problem)
        else:
            assert st == (404, "NoSuchKey"), st
            answered["gone"] += 1
            assert not rb.object_exists(f"dst{i}")
    report("copy vs delete", failures, n, answered)


def test_upload_part_copy_racing_delete_of_its_source(rb):
    """UploadPartCopy reads its source under a reader guard and publishes the part in a
    re-validated commit: a part copied while its source is deleted is whole (or the copy
    answers NoSuchKey), and the completed object reads back byte for byte."""
    seen = {"copied": 0, "gone": 0}
    failures = []
    n = rounds(100)
    for i in range(n):
        data = os.urandom(16 * 1024 + i)
        rb.put_object(f"pcsrc{i}", data)
        key = f"pc{i}"
        up = rb.init_multipart_upload(key).upload_id
        copy, delete = race(lambda: rb.upload_part_copy(rb.bucket_name, f"pcsrc{i}", (0, len(data) - 1), key, up, 1),
                            lambda: rb.delete_object(f"pcsrc{i}"))
        assert status_of(delete)[0] in (200, 204)
        st = status_of(copy)
        if st[0] == 200:
            seen["copied"] += 1
            rb.complete_multipart_upload(key, up, [oss2.models.PartInfo(1, copy.etag)])
            problem = intact(rb, key, data)
            if problem:
                failures.append(problem)
        else:
            assert st == (404, "NoSuchKey"), st
            seen["gone"] += 1
            rb.abort_multipart_upload(key, up)
    report("part copy vs delete", failures, n, seen)


def test_complete_racing_reupload_of_a_part(rb):
    seen = {"completed": 0, "invalid_part": 0}
    failures = []
    n = rounds(120)
    for i in range(n):
        key = f"mp{i}"
        p1, p2, p1b = os.urandom(100 * 1024), os.urandom(3000 + i), os.urandom(100 * 1024)
        up = rb.init_multipart_upload(key).upload_id
        r1 = rb.upload_part(key, up, 1, p1)
        r2 = rb.upload_part(key, up, 2, p2)
        parts = [oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)]
        complete, reupload = race(lambda: rb.complete_multipart_upload(key, up, parts),
                                  lambda: rb.upload_part(key, up, 1, p1b))
        st = status_of(complete)
        if st[0] == 200:
            seen["completed"] += 1
            problem = intact(rb, key, p1 + p2)
            if problem:
                failures.append(problem)
            # Had the re-upload gone first, the ETag would not have matched: it must have
            # found the upload completed.
            if status_of(reupload) != (404, "NoSuchUpload"):
                failures.append(f"{key}: completed with part 1 while its re-upload answered {status_of(reupload)}")
        elif st == (400, "InvalidPart"):
            seen["invalid_part"] += 1
            assert status_of(reupload)[0] == 200
            assert not rb.object_exists(key)
            rb.abort_multipart_upload(key, up)
        else:
            raise AssertionError(f"complete answered {st}")
    report("complete vs part re-upload", failures, n, seen)


def test_append_racing_delete_and_recreate(rb):
    seen = {}
    failures = []
    n = rounds(150)
    for i in range(n):
        key = f"log{i}"
        a, b, x = os.urandom(4096), os.urandom(4096), os.urandom(1000 + i)
        rb.append_object(key, 0, a)

        def recreate():
            rb.delete_object(key)
            return rb.append_object(key, 0, b)

        appended, recreated = race(lambda: rb.append_object(key, len(a), x), recreate)
        assert status_of(recreated)[0] == 200
        # The delete and re-create were both acknowledged: what is there is B, or B with the
        # append on top of it. A's bytes may never come back.
        problems = [intact(rb, key, b), intact(rb, key, b + x)]
        if all(problems):
            failures.append(f"round {i}: neither B nor B+X ({problems[0]})")
            continue
        body = b if problems[0] is None else b + x
        st = status_of(appended)
        if st[0] == 200 and body == b + x:
            outcome = "appended to B"
        elif st[0] == 200:
            outcome = "appended to A, then deleted"
        else:
            assert st[0] == 409, st
            outcome = st[1]
        seen[outcome] = seen.get(outcome, 0) + 1
    report("append vs delete+recreate", failures, n, seen)


def upload_two_segments(bucket, key, first, second):
    up = bucket.init_multipart_upload(key).upload_id
    e1 = bucket.upload_part(key, up, 1, first).etag
    e2 = bucket.upload_part(key, up, 2, second).etag
    bucket.complete_multipart_upload(key, up, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)])


def slow_get(server, bucket, key, pause, during):
    """GET with a tiny receive window: read a little, run `during` (another client's request)
    while paused mid-body, then read the rest. Returns (status, declared length, body)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(30)
    sock.connect((server.host, server.port))
    try:
        # Public-read bucket: an anonymous GET needs no signature.
        sock.sendall(f"GET /{bucket}/{key} HTTP/1.1\r\nHost: {server.addr}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            assert chunk, "closed before the status line"
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:]}
        length = int(headers.get("content-length", "0"))
        while len(body) < min(length, 64 * 1024):
            body += sock.recv(4096)
        during()
        time.sleep(pause)
        while len(body) < length:
            chunk = sock.recv(256 * 1024)
            if not chunk:
                break
            body += chunk
        return status, length, body
    finally:
        sock.close()


@pytest.mark.parametrize("change", ["delete", "overwrite"])
def test_slow_reader_racing_delete_or_overwrite(racy, rb, change):
    rb.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    first_len, second_len = 4 * 1024 * 1024, 256 * 1024
    short = 0
    n = rounds(40)
    for i in range(n):
        key = f"big{i}"
        first, second = os.urandom(first_len), os.urandom(second_len)
        upload_two_segments(rb, key, first, second)

        def during():
            if change == "delete":
                rb.delete_object(key)
            else:
                rb.put_object(key, b"the new version")

        status, length, body = slow_get(racy, rb.bucket_name, key, 0.15, during)
        assert status == 200
        assert length == first_len + second_len
        if len(body) != length:
            short += 1
            continue
        assert body == first + second, f"round {i}: bytes of another version"
    report(f"slow reader vs {change}", ["cut off"] * short, n, {"whole": n - short})


def test_overwrite_storm_with_readers(rb):
    """Writers replace one key again and again (simple and appendable-made, small and streamed
    sizes) while readers GET it: every 200 is one whole version."""
    key = "storm"
    versions = {}
    lock = threading.Lock()
    stop = time.monotonic() + 25 * min(SCALE, 2)
    writes = rounds(300)
    counter = iter(range(10**9))

    def version_bytes(v):
        size = [1000, 70 * 1024, 300 * 1024][v % 3]
        seed = hashlib.sha256(str(v).encode()).digest()
        return (seed * (size // 32 + 1))[:size]

    def writer():
        n = 0
        while time.monotonic() < stop and n < writes // 4:
            v = next(counter)
            data = version_bytes(v)
            with lock:
                versions[hashlib.md5(data).hexdigest().upper()] = data
            rb.put_object(key, data)
            n += 1
        return n

    def reader():
        reads = 0
        while time.monotonic() < stop:
            try:
                body, etag, crc = read_whole(rb, key)
            except oss2.exceptions.NoSuchKey:
                continue
            assert hashlib.md5(body).hexdigest().upper() == etag, "body is not the version its ETag names"
            assert crc == crc64(body)
            with lock:
                assert versions.get(etag) == body
            reads += 1
            if reads > writes * 3:
                break
        return reads

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(writer) for _ in range(4)] + [pool.submit(reader) for _ in range(4)]
        results = [f.result() for f in futures]
    assert sum(results[:4]) > 0 and sum(results[4:]) > 0, results
    print("storm: writes", sum(results[:4]), "reads", sum(results[4:]))


def test_sweep_spares_stalled_uploads(racy, rb):
    """Uploads that stall for several sweep intervals (the sweep runs every second with no idle
    margin) keep their blobs: each completes and reads back whole."""
    rb.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    n = rounds(12)
    datas = [os.urandom(300 * 1024 + i) for i in range(n)]

    def stalled_put(i):
        data = datas[i]
        sock = socket.create_connection((racy.host, racy.port), timeout=30)
        try:
            sock.sendall((f"PUT /{rb.bucket_name}/stalled{i} HTTP/1.1\r\nHost: {racy.addr}\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n").encode() + data[: len(data) // 2])
            time.sleep(3.5)
            sock.sendall(data[len(data) // 2:])
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            return answer.split(b"\r\n", 1)[0]
        finally:
            sock.close()

    with ThreadPoolExecutor(n) as pool:
        lines = list(pool.map(stalled_put, range(n)))
    assert all(line.startswith(b"HTTP/1.1 200") for line in lines), lines
    for i in range(n):
        assert_intact(rb, f"stalled{i}", datas[i])
