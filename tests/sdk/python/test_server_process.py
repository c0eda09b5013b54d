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
