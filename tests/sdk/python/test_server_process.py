"""The `ossd serve` process contract: the listening line, credentials from the
environment, graceful shutdown on SIGTERM / SIGINT."""

import signal

import pytest
import requests

import oss2

from conftest import oss2_bucket
from ossd_helpers import LISTEN_RE, OssdServer, unique_bucket


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_listening_line_requests_and_graceful_stop(tmp_path, sig):
    server = OssdServer(tmp_path / "data")
    server.start()
    try:
        host, port = server.addr.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert 0 < int(port) < 65536
        r = requests.get(server.endpoint + "/")
        assert r.status_code == 403  # anonymous ListBuckets
        assert r.headers.get("x-oss-request-id")
        b = oss2_bucket(server, unique_bucket("proc"))
        b.create_bucket()
        b.put_object("k", b"v")
        assert b.get_object("k").read() == b"v"
    finally:
        rc = server.stop(sig=sig, timeout=15)
    assert rc == 0, f"ossd did not exit cleanly on {sig!r}: rc={rc}\n{server.stderr_tail()}"
    assert len(server.stdout_lines) == 1, server.stdout_lines
    assert LISTEN_RE.match(server.stdout_lines[0])


def test_credentials_come_from_environment(tmp_path):
    a = OssdServer(tmp_path / "a")
    a.start()
    try:
        name = unique_bucket("env")
        oss2_bucket(a, name).create_bucket()
        other = OssdServer(tmp_path / "unused")  # fresh random credentials, never started
        with pytest.raises(oss2.exceptions.ServerError) as ei:
            oss2_bucket(a, name, ak=other.ak, sk=other.sk).list_objects()
        assert (ei.value.status, ei.value.code) == (403, "InvalidAccessKeyId")
    finally:
        a.stop()


@pytest.mark.single_node
def test_sigterm_lets_an_upload_in_flight_finish(tmp_path):
    """SIGTERM during an upload: the upload completes and is stored whole, then ossd exits 0."""
    import os
    import socket
    import time

    server = OssdServer(tmp_path / "data")
    server.start()
    name = unique_bucket("inflight")
    oss2_bucket(server, name).create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    data = os.urandom(2 * 1024 * 1024)
    host, port = server.addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"PUT /{name}/inflight.bin HTTP/1.1\r\nHost: {server.addr}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    sock.sendall(head + data[: len(data) // 2])
    time.sleep(0.3)
    proc = server.proc
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None, "ossd exited with an upload in flight"
    sock.sendall(data[len(data) // 2:])
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the answer: {answer!r}"
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert server.stop(timeout=15) == 0, server.stderr_tail()
    server.start()
    try:
        assert oss2_bucket(server, name).get_object("inflight.bin").read() == data
    finally:
        server.stop()


@pytest.mark.single_node
def test_start_up_sweeps_orphaned_blobs(tmp_path):
    """A blob no metadata references (left by a crash between writing and publishing) is removed
    at start-up; the blobs of stored objects stay."""
    server = OssdServer(tmp_path / "data")
    server.start()
    name = unique_bucket("sweep")
    b = oss2_bucket(server, name)
    b.create_bucket()
    b.put_object("kept", b"kept bytes")
    assert server.stop() == 0
    blobs = tmp_path / "data" / "blobs"
    kept = [p for p in blobs.rglob("*") if p.is_file()]
    assert len(kept) == 1
    orphan = blobs / "ab" / ("ab" + "0" * 30)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"never published")
    server.start()
    try:
        assert not orphan.exists(), "the orphaned blob survived the start-up sweep"
        assert all(p.exists() for p in kept)
        assert oss2_bucket(server, name).get_object("kept").read() == b"kept bytes"
    finally:
        server.stop()
