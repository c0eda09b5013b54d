"""Hostile clients against a real `ossd serve` (issue 10): raw sockets and the SDKs.

One server for the module, started with short timeouts so slow attacks are seen within
seconds (the defaults are 30 s for headers, 75 s idle, 60 s body stall). A sampler reads the
server's RSS from /proc every 50 ms for the whole module; the last test checks it stayed under
a fixed bound. Every refusal is checked to be OSS error XML with the right code.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

import oss2
import pytest
import requests

from ossd_helpers import (CallbackReceiver, OssdServer, ServerStartError, b64json, ossd_binary, raw_request,
                          unique_bucket)

ACCOUNT = "1234567890123456"
HEADER_TIMEOUT = 2
IDLE_TIMEOUT = 3
BODY_STALL = 2
MAX_CONNECTIONS = 256
# A debug build peaks near 30 MiB through this suite; the unbounded parsers it attacks reached 400+ MiB.
RSS_BOUND_MIB = 96


def role_policy(bucket):
    return {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["oss:PutObject", "oss:InitiateMultipartUpload"],
         "Resource": [f"acs:oss:*:*:{bucket}/up/*"]}]}


def config_text(bucket):
    return "\n".join([
        "[sts]",
        'secret = "hostile-sts-secret-0123456789"',
        "min_duration_seconds = 1",
        "[[sts.roles]]",
        'name = "putonly"',
        f'arn = "acs:ram::{ACCOUNT}:role/putonly"',
        f"policy = '''{json.dumps(role_policy(bucket))}'''",
        "",
    ])


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.samples, self.stop = pid, 0, 0, threading.Event()

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, self.rss_kib())
                self.samples += 1
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.05)


class Env:
    def __init__(self, tmp):
        self.bucket = unique_bucket("hostile")
        self.public = unique_bucket("hostile-pub")
        self.config = tmp / "ossd.toml"
        self.config.write_text(config_text(self.bucket))
        self.server = OssdServer(tmp / "data", extra_args=[
            "--config", str(self.config),
            "--header-read-timeout-secs", str(HEADER_TIMEOUT),
            "--idle-timeout-secs", str(IDLE_TIMEOUT),
            "--body-stall-timeout-secs", str(BODY_STALL),
            "--max-connections", str(MAX_CONNECTIONS),
            "--callback-scope", "public",
        ])
        try:
            self.server.start()
        except ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        self.root = oss2.Bucket(oss2.Auth(self.server.ak, self.server.sk), self.server.endpoint, self.bucket,
                                connect_timeout=60)
        self.root.create_bucket()
        self.pub = oss2.Bucket(oss2.Auth(self.server.ak, self.server.sk), self.server.endpoint, self.public,
                               connect_timeout=60)
        self.pub.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
        self.sampler = RssSampler(self.server.proc.pid)
        self.sampler.start()

    @property
    def port(self):
        return self.server.port

    def blob_count(self):
        root = self.server.data_dir / "blobs"
        return sum(len(files) for _, _, files in os.walk(root))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("ossd-hostile"))
    yield e
    e.sampler.stop.set()
    e.server.stop()


# ---------------------------------------------------------------------------
# helpers

def assert_oss_error(status, body, want_status, code, ec=None):
    """The answer is OSS error XML with this status, code (and EC)."""
    assert status == want_status, (status, body[:500])
    root = ET.fromstring(body)
    assert root.tag == "Error", body[:500]
    fields = {c.tag: c.text or "" for c in root}
    assert fields.get("Code") == code, fields
    assert fields.get("RequestId"), fields
    if ec is not None:
        assert fields.get("EC") == ec, fields
    return fields


def resp_error(resp, status, code, ec=None):
    return assert_oss_error(resp.status_code, resp.content, status, code, ec)


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(sock, timeout=15):
    """(status, headers, body) of one HTTP/1.1 response; reads to Content-Length or close."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {buf[:200]!r}")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        body += chunk
    return status, headers, body[:length] if length >= 0 else body


def closed_by_server(sock, within):
    """True when the server closes (EOF or reset) within `within` seconds."""
    deadline = time.monotonic() + within
    sock.setblocking(False)
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            except BlockingIOError:
                continue
            if not data:
                return True
    return False


def stream_until_answered(port, head, chunk, max_bytes):
    """Sends `head`, then `chunk` repeatedly until the server answers; (bytes sent, response)."""
    s = connect(port)
    s.sendall(head)
    sent = 0
    try:
        while sent < max_bytes:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.setblocking(True)
        return sent, read_response(s)
    finally:
        s.close()


def v4_put(env, key, body, extra_headers):
    """PutObject signed with V4 by hand (canonical request per oss-api.md), path style."""
    now = dt.datetime.now(dt.timezone.utc)
    date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"x-oss-date": date, **extra_headers}
    signed = sorted((k.lower(), v.strip()) for k, v in headers.items()
                    if k.lower().startswith("x-oss-") or k.lower() in ("content-type", "content-md5"))
    payload = headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    uri = "/" + quote(env.bucket, safe="") + "/" + quote(key, safe="/")
    canonical = "\n".join(["PUT", uri, "", "".join(f"{k}:{v}\n" for k, v in signed), "", payload])
    scope = f"{day}/cn-hangzhou/oss/aliyun_v4_request"
    to_sign = f"OSS4-HMAC-SHA256\n{date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = hmac.new(("aliyun_v4" + env.server.sk).encode(), day.encode(), hashlib.sha256).digest()
    for part in ("cn-hangzhou", "oss", "aliyun_v4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"OSS4-HMAC-SHA256 Credential={env.server.ak}/{scope},Signature={sig}"
    return requests.put(f"{env.server.endpoint}{uri}", data=body, headers=headers, timeout=30)


def rpc_assume(env, policy=None):
    p = {"Action": "AssumeRole", "Version": "2015-04-01", "AccessKeyId": env.server.ak,
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": os.urandom(8).hex(),
         "Timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "RoleArn": f"acs:ram::{ACCOUNT}:role/putonly", "RoleSessionName": "hostile", "Format": "JSON"}
    if policy is not None:
        p["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
    enc = lambda s: quote(str(s), safe="-_.~")  # noqa: E731
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(p.items()))
    key = (env.server.sk + "&").encode()
    p["Signature"] = base64.b64encode(
        hmac.new(key, f"POST&%2F&{enc(canonical)}".encode(), hashlib.sha1).digest()).decode()
    return requests.post(env.server.ip_endpoint + "/", data=p, timeout=30)


def sts_bucket(env, creds):
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    return oss2.Bucket(auth, env.server.endpoint, env.bucket, connect_timeout=60)


def policy_b64(conditions):
    return base64.b64encode(json.dumps({"expiration": "2099-01-01T00:00:00.000Z",
                                        "conditions": conditions}).encode()).decode()


def v1_post_fields(ak, sk, policy, token=None):
    sig = base64.b64encode(hmac.new(sk.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    fields = [("OSSAccessKeyId", ak), ("policy", policy), ("Signature", sig)]
    if token:
        fields.append(("x-oss-security-token", token))
    return fields


def post_form(env, bucket, fields, data=b"posted"):
    parts = [(k, (None, v)) for k, v in fields] + [("file", ("f.txt", data, "text/plain"))]
    return requests.post(f"{env.server.endpoint}/{bucket}/", files=parts, timeout=30)


def start_aside(tmp_path, *extra, config=None):
    """A second server (for start-up checks); the caller stops it."""
    args = list(extra)
    if config is not None:
        path = tmp_path / "aside.toml"
        path.write_text(config)
        args = ["--config", str(path), *args]
    server = OssdServer(tmp_path / "aside-data", extra_args=args)
    server.start()
    return server


# ---------------------------------------------------------------------------
# 1. memory bounds on PostObject forms

def test_form_without_boundary_is_refused_within_a_bounded_read(env):
    head = (f"POST /{env.bucket}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=ZZZ\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"A" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent, (status, _, body) = stream_until_answered(env.port, head, chunk, 256 * 1024 * 1024)
    fields = assert_oss_error(status, body, 400, "FieldItemTooLong")
    assert sent < 32 * 1024 * 1024, f"the server read {sent} bytes before refusing"
    assert "fields preceding the upload file" in fields["Message"]


def test_part_headers_that_never_end(env):
    head = (f"POST /{env.bucket}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=ZZZ\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    first = b"--ZZZ\r\nContent-Disposition: form-data; name=\"key\"; x=\""
    chunk = f"{len(first):x}\r\n".encode() + first + b"\r\n"
    filler = b"x" * 8192
    more = f"{len(filler):x}\r\n".encode() + filler + b"\r\n"
    sent, (status, _, body) = stream_until_answered(env.port, head + chunk, more, 64 * 1024 * 1024)
    assert_oss_error(status, body, 400, "FieldItemTooLong")
    # What the client could push includes the kernel's socket buffers (a few MiB on loopback).
    assert sent < 16 * 1024 * 1024, sent


def test_ten_thousand_tiny_fields(env):
    fields = [(f"x-oss-meta-f{i}", "v") for i in range(10_000)]
    resp = post_form(env, env.bucket, fields)
    resp_error(resp, 400, "FieldItemTooLong")


def test_form_metadata_is_bounded_like_headers(env):
    policy = policy_b64([{"bucket": env.bucket}])
    fields = [("key", "meta.txt"), *v1_post_fields(env.server.ak, env.server.sk, policy),
              *[(f"x-oss-meta-m{i}", "v" * 1000) for i in range(9)]]
    resp_error(post_form(env, env.bucket, fields), 400, "InvalidArgument")
    assert not env.root.object_exists("meta.txt")


def test_anonymous_post_to_a_private_bucket_reads_no_file(env):
    before = env.blob_count()
    # A 64 MiB file after a small anonymous form: refused at the file part, before its bytes.
    head = (f"POST /{env.bucket}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=ZZZ\r\nContent-Length: 67108964\r\n\r\n").encode()
    form = (b"--ZZZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nanon.bin\r\n"
            b"--ZZZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n")
    sent, (status, _, body) = stream_until_answered(env.port, head + form, b"\0" * 65536, 64 * 1024 * 1024)
    assert_oss_error(status, body, 403, "AccessDenied")
    assert sent < 16 * 1024 * 1024, sent
    assert env.blob_count() == before
    assert not env.root.object_exists("anon.bin")


def test_refused_form_is_answered_to_a_client_that_sends_it_all(env):
    """A client that writes its whole body before reading (fetch, most SDKs) reads the 403: the
    server answers at the file part, then lingers, reading and discarding the rest, instead of
    closing with unread bytes (which resets the connection under the client's writes)."""
    form = (b"--ZZZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nanon.bin\r\n"
            b"--ZZZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
            + b"\0" * (4 << 20) + b"\r\n--ZZZ--\r\n")
    head = (f"POST /{env.bucket}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary=ZZZ\r\nContent-Length: {len(form)}\r\n\r\n").encode()
    for _ in range(5):
        s = connect(env.port)
        try:
            s.sendall(head + form)
            status, headers, body = read_response(s)
        finally:
            s.close()
        assert_oss_error(status, body, 403, "AccessDenied")
        assert headers.get("connection") == "close", headers


def test_malformed_forms(env):
    policy = policy_b64([{"bucket": env.bucket}])
    signed = b"".join(b"--ZZZ\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (k.encode(), v.encode())
                      for k, v in [("key", "trunc.txt"), *v1_post_fields(env.server.ak, env.server.sk, policy)])
    cases = (
        (b"--ZZZ--\r\n", "MalformedPOSTRequest"),
        # Authenticated, then the file part never reaches its closing boundary.
        (signed + b"--ZZZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntruncated", "MalformedPOSTRequest"),
        (b"--ZZZ\r\nno colon here\r\n\r\nv\r\n--ZZZ--", "MalformedPOSTRequest"),
        (b"--ZZZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--ZZZ--", "MalformedPOSTRequest"),
    )
    before = env.blob_count()
    for body, code in cases:
        r = requests.post(f"{env.server.endpoint}/{env.bucket}/", data=body, timeout=30,
                          headers={"Content-Type": "multipart/form-data; boundary=ZZZ"})
        resp_error(r, 400, code)
    assert not env.root.object_exists("trunc.txt")
    assert env.blob_count() == before


# ---------------------------------------------------------------------------
# 2. a policy's bucket condition cannot be satisfied by a form field

def test_policy_bucket_condition_is_the_real_bucket(env):
    other = unique_bucket("hostile-b")
    oss2.Bucket(env.root.auth, env.server.endpoint, other, connect_timeout=60).create_bucket()
    policy = policy_b64([{"bucket": env.bucket}, ["content-length-range", 0, 1024]])
    fields = [("key", "smuggled.txt"), *v1_post_fields(env.server.ak, env.server.sk, policy),
              ("bucket", env.bucket)]
    resp = post_form(env, other, fields)
    resp_error(resp, 403, "AccessDenied")
    other_bucket = oss2.Bucket(env.root.auth, env.server.endpoint, other)
    assert not other_bucket.object_exists("smuggled.txt")
    # The same policy still works for the bucket it names.
    ok = post_form(env, env.bucket, fields)
    assert ok.status_code == 204, ok.text


# ---------------------------------------------------------------------------
# 3. connection handling

def test_slowloris_on_headers(env):
    socks = [connect(env.port) for _ in range(50)]
    try:
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        start = time.monotonic()
        # Keep dribbling one byte a second: the header deadline is total, not per byte.
        deadline = start + HEADER_TIMEOUT + 4
        open_socks = list(socks)
        while open_socks and time.monotonic() < deadline:
            still = []
            for s in open_socks:
                try:
                    s.sendall(b"a")
                    if not closed_by_server(s, 0.02):
                        still.append(s)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            open_socks = still
            time.sleep(0.5)
        assert not open_socks, f"{len(open_socks)} slow connections still open after {HEADER_TIMEOUT + 4}s"
        assert time.monotonic() - start >= HEADER_TIMEOUT - 0.5
    finally:
        for s in socks:
            s.close()


def test_idle_keep_alive_connection_is_closed(env):
    s = connect(env.port)
    try:
        s.sendall(f"GET /{env.public}/?max-keys=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        status, headers, _ = read_response(s)
        assert status == 200 and headers.get("connection", "").lower() != "close"
        start = time.monotonic()
        assert closed_by_server(s, IDLE_TIMEOUT + 4), "idle connection kept open"
        assert time.monotonic() - start >= IDLE_TIMEOUT - 1
    finally:
        s.close()


def test_slowloris_on_a_body_is_abandoned_and_its_blob_removed(env):
    before = env.blob_count()
    s = connect(env.port)
    try:
        # A presigned PUT: the body is what stalls, not the authentication.
        path = env.pub.sign_url("PUT", "slow-body", 60).split(str(env.port), 1)[1]
        req = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{env.port}\r\nContent-Length: 100000\r\n\r\n").encode()
        s.sendall(req + b"x" * 1000)
        start = time.monotonic()
        status, _, body = read_response(s, timeout=BODY_STALL + 10)
        assert time.monotonic() - start >= BODY_STALL - 0.5
    finally:
        s.close()
    assert_oss_error(status, body, 400, "RequestTimeout")
    assert not env.pub.object_exists("slow-body")
    time.sleep(0.3)
    assert env.blob_count() == before, "the abandoned body's blob was left behind"


def test_unterminated_chunked_bodies(env):
    url = env.pub.sign_url("PUT", "chunked-bad", 60)
    path = url.split(str(env.port), 1)[1]
    head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{env.port}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    # (a) stalls mid-chunk; (b) a chunk size that is no number; (c) the client half-closes.
    for tail, half_close in ((b"10\r\nabc", False), (b"zz\r\nabc\r\n", False), (b"10\r\nabc", True)):
        s = connect(env.port)
        try:
            s.sendall(head + tail)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            status, _, body = read_response(s, timeout=BODY_STALL + 10)
        finally:
            s.close()
        assert_oss_error(status, body, 400, "RequestTimeout")
    assert not env.pub.object_exists("chunked-bad")


def test_oversized_and_too_many_headers(env):
    # Beyond the head-size and header-count limits hyper refuses before ossd sees a request:
    # 431 without a body (no OSS request exists yet to answer in XML), and the connection closes.
    for head in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n"):
        s = connect(env.port)
        try:
            try:
                s.sendall(head)
            except (BrokenPipeError, ConnectionResetError):
                pass
            status, _, _ = read_response(s)
            assert status == 431, status
            assert closed_by_server(s, 5)
        finally:
            s.close()
    # Big but within the limit: an ordinary OSS answer.
    r = requests.get(f"{env.server.endpoint}/{env.public}/?max-keys=1", headers={"X-Big": "a" * 30_000}, timeout=30)
    assert r.status_code == 200, r.text


def test_connection_flood_keeps_answering(env):
    probe = oss2.Bucket(oss2.AnonymousAuth(), env.server.endpoint, env.public, connect_timeout=60)
    # Below the cap: a well-formed request is answered at once.
    flood = [connect(env.port) for _ in range(MAX_CONNECTIONS - 20)]
    try:
        for s in flood:
            s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        assert probe.list_objects(max_keys=1).status == 200
        assert time.monotonic() - start < 2.0
    finally:
        for s in flood:
            s.close()
    # Beyond the cap: the excess waits in the backlog, is served once the stalled ones time
    # out, and the request is still answered.
    flood = []
    try:
        for _ in range(MAX_CONNECTIONS * 2):
            s = socket.socket()
            s.settimeout(10)
            s.connect(("127.0.0.1", env.port))
            flood.append(s)
        for s in flood:
            try:
                s.sendall(b"GET / HTTP/1.1\r\n")
            except OSError:
                pass
        start = time.monotonic()
        r = requests.get(f"{env.server.endpoint}/{env.public}/?max-keys=1", timeout=30)
        assert r.status_code == 200
        assert time.monotonic() - start < 3 * HEADER_TIMEOUT + 5
    finally:
        for s in flood:
            s.close()


# ---------------------------------------------------------------------------
# XML bodies, UTF-8

def test_malformed_and_truncated_xml(env):
    bad = [
        "<Delete><Object><Key>a</Key></Object>",
        "<Delete><Object><Key>a</Ke",
        "not xml at all",
        "<!DOCTYPE d [<!ENTITY e \"x\">]><Delete><Object><Key>a&e;b</Key></Object></Delete>",
        "<Delete><Object><Key>a<!DOCTYPE x [<!ENTITY a \"aa\">]>b</Key></Object></Delete>",
        "<Delete>" + "<Object><Key>k</Key></Object>" * 40_000 + "</Delete>",
    ]
    signed = dict(ak=env.server.ak, sk=env.server.sk)
    for text in bad:
        body = text.encode()
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        r = raw_request(env.server.endpoint, "POST", env.bucket, query={"delete": ""}, body=body,
                        headers={"Content-MD5": md5, "Content-Type": "application/xml"}, **signed)
        resp_error(r, 400, "MalformedXML")
    # Invalid UTF-8 in an XML body.
    body = b"<Tagging><TagSet><Tag><Key>\xff\xfe</Key><Value>v</Value></Tag></TagSet></Tagging>"
    env.root.put_object("tag-me", b"x")
    r = raw_request(env.server.endpoint, "PUT", env.bucket, "tag-me", query={"tagging": ""}, body=body, **signed)
    resp_error(r, 400, "MalformedXML")


def test_invalid_utf8_in_keys_and_headers(env):
    # A key whose percent-decoded bytes are not UTF-8: refused as OSS does, never a 500.
    s = connect(env.port)
    try:
        s.sendall(f"GET /{env.public}/bad%FF%FEkey HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        status, _, body = read_response(s)
    finally:
        s.close()
    assert status in (400, 404), status
    root = ET.fromstring(body)
    assert root.findtext("Code") in ("InvalidObjectName", "NoSuchKey", "InvalidURI"), body
    # Raw non-UTF-8 bytes in a header value: answered, stored or refused, never 500.
    url = env.pub.sign_url("PUT", "latin1-header", 60)
    path = url.split(str(env.port), 1)[1]
    s = connect(env.port)
    try:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{env.port}\r\nContent-Length: 2\r\n".encode()
                  + b"x-oss-meta-note: caf\xe9\r\nContent-Disposition: \xff\xfe\r\n\r\nok")
        status, _, body = read_response(s)
    finally:
        s.close()
    assert status < 500, (status, body)
    if status >= 400:
        assert ET.fromstring(body).tag == "Error"


# ---------------------------------------------------------------------------
# 4. x-oss-content-sha256

def test_v4_content_sha256_must_be_unsigned_payload(env):
    ok = v4_put(env, "sha-ok", b"body", {"x-oss-content-sha256": "UNSIGNED-PAYLOAD"})
    assert ok.status_code == 200, ok.text
    wrong = hashlib.sha256(b"another body").hexdigest()
    r = v4_put(env, "sha-bad", b"body", {"x-oss-content-sha256": wrong})
    resp_error(r, 400, "InvalidArgument", ec="0002-00000214")
    assert not env.root.object_exists("sha-bad")


# ---------------------------------------------------------------------------
# 5. object ACLs need oss:PutObjectAcl

def test_put_only_token_cannot_publish(env):
    r = rpc_assume(env)
    assert r.status_code == 200, r.text
    creds = r.json()["Credentials"]
    b = sts_bucket(env, creds)
    assert b.put_object("up/private.txt", b"fine").status == 200
    for call in (lambda: b.put_object("up/public.txt", b"x", headers={"x-oss-object-acl": "public-read"}),
                 lambda: b.init_multipart_upload("up/mp.txt", headers={"x-oss-object-acl": "public-read"})):
        with pytest.raises(oss2.exceptions.OssError) as ei:
            call()
        assert (ei.value.status, ei.value.code) == (403, "AccessDenied"), ei.value
    assert not env.root.object_exists("up/public.txt")
    policy = policy_b64([{"bucket": env.bucket}])
    fields = [("key", "up/form.txt"), ("x-oss-object-acl", "public-read"),
              *v1_post_fields(creds["AccessKeyId"], creds["AccessKeySecret"], policy, creds["SecurityToken"])]
    resp_error(post_form(env, env.bucket, fields), 403, "AccessDenied")
    fields = [f for f in fields if f[0] != "x-oss-object-acl"]
    assert post_form(env, env.bucket, fields).status_code == 204


# ---------------------------------------------------------------------------
# 6. presigned V4 lifetime

def test_presigned_v4_expiry_is_capped(env):
    env.root.put_object("presigned.txt", b"p")
    v4 = oss2.Bucket(oss2.AuthV4(env.server.ak, env.server.sk), env.server.endpoint, env.bucket,
                     region="cn-hangzhou", connect_timeout=60)
    assert requests.get(v4.sign_url("GET", "presigned.txt", 604800), timeout=30).status_code == 200
    for expires in (604801, 9223372036854775807):
        r = requests.get(v4.sign_url("GET", "presigned.txt", expires), timeout=30)
        resp_error(r, 400, "InvalidArgument", ec="0002-00000232")


# ---------------------------------------------------------------------------
# 7. response-header overrides need a signature

def test_anonymous_response_overrides_are_refused(env):
    env.pub.put_object("page.txt", b"<script>1</script>", headers={"x-oss-object-acl": "public-read"})
    anon = f"{env.server.endpoint}/{env.public}/page.txt"
    assert requests.get(anon, timeout=30).status_code == 200
    r = requests.get(anon, params={"response-content-type": "text/html"}, timeout=30)
    resp_error(r, 400, "InvalidRequest", ec="0017-00000902")
    signed = env.pub.get_object("page.txt", params={"response-content-type": "text/html"})
    assert signed.headers["Content-Type"] == "text/html"


# ---------------------------------------------------------------------------
# 8. owners are account ids

def test_listings_never_show_the_access_key(env):
    env.pub.put_object("owned.txt", b"o")
    r = requests.get(f"{env.server.endpoint}/{env.public}/", timeout=30)
    assert r.status_code == 200
    ids = re.findall(r"<ID>([^<]*)</ID>", r.text)
    assert ids, r.text
    for i in ids:
        assert re.fullmatch(r"\d{16}", i) and i != env.server.ak, ids
    assert env.server.ak not in r.text
    svc = oss2.Service(oss2.Auth(env.server.ak, env.server.sk), env.server.endpoint, connect_timeout=60)
    assert svc.list_buckets().owner.id == ids[0]


# ---------------------------------------------------------------------------
# 9. RAM policies: no panic, no fail-open

def test_hostile_session_policies_are_refused(env):
    statement = {"Effect": "Deny", "Action": "oss:*", "Resource": "*"}
    for cond in ({"éééééx": {"oss:Prefix": "a"}}, {"StringEqualsIfExistsé": {"oss:Prefix": "a"}},
                 {"StringEquals": {"acs:CurrentTime": "2000"}}):
        r = rpc_assume(env, {"Version": "1", "Statement": [{**statement, "Condition": cond}]})
        assert r.status_code == 400, r.text
        assert r.json()["Code"] == "InvalidParameter.PolicyGrammar", r.text
    assert env.server.alive()


def test_role_config_with_unknown_condition_key_does_not_start(tmp_path):
    bad = {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "oss:*", "Resource": "*",
                                          "Condition": {"StringEquals": {"oss:NoSuchKey": "x"}}}]}
    cfg = tmp_path / "bad.toml"
    cfg.write_text("\n".join(["[sts]", 'secret = "hostile-sts-secret-0123456789"', "[[sts.roles]]",
                              'name = "r"', f'arn = "acs:ram::{ACCOUNT}:role/r"',
                              f"policy = '''{json.dumps(bad)}'''", ""]))
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    p = subprocess.run([str(ossd_binary()), "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d"),
                        "--config", str(cfg)], capture_output=True, text=True, timeout=60, env=env_vars)
    assert p.returncode != 0
    assert "condition key" in (p.stderr + p.stdout), p.stderr


# ---------------------------------------------------------------------------
# 10. callback destinations

@pytest.mark.single_node
def test_callbacks_to_internal_addresses_are_refused(env):
    log = env.server.stderr_path.read_text(errors="replace")
    assert "callback destinations: allowed: public unicast" in log, log[-2000:]
    rcv = CallbackReceiver()
    try:
        urls = [f"http://127.0.0.1:{rcv.port}/", f"http://2130706433:{rcv.port}/",
                f"http://0177.0.0.1:{rcv.port}/", f"http://0.0.0.0:{rcv.port}/",
                f"http://[::ffff:127.0.0.1]:{rcv.port}/", f"http://localhost:{rcv.port}/"]
        request_ids = []
        for i, url in enumerate(urls):
            cb = b64json({"callbackUrl": url, "callbackBody": "bucket=${bucket}"})
            r = raw_request(env.server.endpoint, "PUT", env.bucket, f"cb-{i}", body=b"x",
                            headers={"x-oss-callback": cb}, ak=env.server.ak, sk=env.server.sk)
            if r.status_code == 400:
                # Some spellings are no valid callback URL at all (OSS: no IPv6 literals).
                resp_error(r, 400, "InvalidArgument")
                continue
            fields = resp_error(r, 203, "CallbackFailed", ec="0007-00000203")
            assert fields["Message"].startswith("Error status : -1."), (url, fields)
            request_ids.append(r.headers["x-oss-request-id"])
        time.sleep(0.3)
        assert rcv.calls == [], "an internal receiver was contacted"
        assert len(request_ids) >= 4
    finally:
        rcv.close()
    # The callback log names the rule and the flag that would allow the destination.
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    out = subprocess.run([str(ossd_binary()), "callbacks", "show", request_ids[0], "--data",
                          str(env.server.data_dir)], capture_output=True, text=True, timeout=60, env=env_vars)
    assert out.returncode == 0, out.stderr
    assert "public unicast only" in out.stdout and "--callback-allow" in out.stdout, out.stdout


def test_default_policy_follows_the_listen_address(tmp_path):
    server = start_aside(tmp_path)
    try:
        log = server.stderr_path.read_text(errors="replace")
        line = next(ln for ln in log.splitlines() if "callback destinations:" in ln)
        assert "scope private" in line, line
    finally:
        server.stop()


# ---------------------------------------------------------------------------
# secrets from a file

def test_secrets_from_files(tmp_path):
    sts_file = tmp_path / "sts.secret"
    sts_file.write_text("file-sts-secret-0123456789\n")
    cfg = config_text("x").replace('secret = "hostile-sts-secret-0123456789"\n', "")
    server = start_aside(tmp_path, "--sts-secret-file", str(sts_file), config=cfg)
    try:
        assert server.alive()
    finally:
        server.stop()
    # Too short a secret from the file is refused like one from the flag.
    sts_file.write_text("short\n")
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    p = subprocess.run([str(ossd_binary()), "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d2"),
                        "--sts-secret-file", str(sts_file)], capture_output=True, text=True, timeout=60,
                       env=env_vars)
    assert p.returncode != 0 and "16 characters" in p.stderr, p.stderr
    # The root secret from OSSD_ACCESS_KEY_SECRET_FILE.
    root_file = tmp_path / "root.secret"
    root_file.write_text("root-secret-from-a-file\n")
    env_vars.update(OSSD_ACCESS_KEY_ID="LTAIfromfile000000000", OSSD_ACCESS_KEY_SECRET_FILE=str(root_file))
    proc = subprocess.Popen([str(ossd_binary()), "serve", "--listen", "127.0.0.1:0", "--data",
                             str(tmp_path / "d3")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_vars)
    try:
        addr = None
        for line in proc.stdout:
            m = re.match(r"^ossd listening on http://(\S+)$", line.strip())
            if m:
                addr = m.group(1)
                break
        assert addr, proc.stderr.read()
        svc = oss2.Service(oss2.Auth("LTAIfromfile000000000", "root-secret-from-a-file"), f"http://{addr}",
                           connect_timeout=60)
        assert svc.list_buckets().status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# ---------------------------------------------------------------------------
# last: memory stayed bounded through everything above

def test_zz_rss_stayed_bounded(env):
    assert env.server.alive()
    assert env.sampler.samples > 10
    peak_mib = env.sampler.peak_kib / 1024
    print(f"ossd peak RSS during the hostile suite: {peak_mib:.1f} MiB")
    assert peak_mib < RSS_BOUND_MIB, f"peak RSS {peak_mib:.1f} MiB"
