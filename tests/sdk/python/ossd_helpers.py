"""Shared helpers for the SDK conformance suites.

Everything here is independent of the server under test: the process
manager starts the real `ossd serve` binary, and the hand-written V1 signer
follows the rules in shared/spec/oss-api.md section 1.1 (it is checked
against the documented worked example in test_oss2_core.py).
"""

import base64
import email.utils
import hashlib
import hmac
import os
import queue
import re
import secrets
import signal
import string
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
LISTEN_RE = re.compile(r"^ossd listening on (https?)://(\S+)$")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
REGION = "cn-hangzhou"


def ossd_binary():
    return Path(os.environ.get("OSSD_BIN") or REPO_ROOT / "target" / "debug" / "ossd")


def random_credentials():
    ak = "LTAI" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    sk = secrets.token_urlsafe(30)
    return ak, sk


def unique_bucket(prefix="t"):
    """A fresh, valid bucket name (3-63 chars of [a-z0-9-])."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


class ServerStartError(RuntimeError):
    pass


# OSSD_TEST_CLUSTER="postgres://USER@HOST:PORT|http://S3HOST:PORT" runs every suite against two
# nodes sharing a fresh PostgreSQL database and an S3 prefix, behind a round-robin proxy
# (scripts/test's second pass). Tests that need one process's data directory are marked
# `single_node` and skipped there.
CLUSTER = os.environ.get("OSSD_TEST_CLUSTER", "")


class OssdServer:
    """One real `ossd serve` process on a loopback port (or, in cluster mode, two nodes behind
    a proxy: see ClusterOssd)."""

    def __new__(cls, *args, single=False, **kw):
        if cls is OssdServer and CLUSTER and not single:
            return super().__new__(ClusterOssd)
        return super().__new__(cls)

    def __init__(self, data_dir, ak=None, sk=None, extra_args=(), binary=None, single=False):
        self.binary = Path(binary) if binary else ossd_binary()
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if ak is None:
            ak, sk = random_credentials()
        self.ak = ak
        self.sk = sk
        self.extra_args = list(extra_args)
        self.proc = None
        self.addr = None
        self.scheme = "http"
        self.stdout_lines = []
        self._starts = 0
        self.stderr_path = None
        self.last_returncode = None

    # -- properties -----------------------------------------------------
    @property
    def host(self):
        return self.addr.rsplit(":", 1)[0]

    @property
    def port(self):
        return int(self.addr.rsplit(":", 1)[1])

    @property
    def endpoint(self):
        return f"{self.scheme}://{self.addr}"

    @property
    def ip_endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def localhost_endpoint(self):
        return f"http://localhost:{self.port}"

    # -- lifecycle ------------------------------------------------------
    def start(self, listen="127.0.0.1:0"):
        if not self.binary.exists():
            raise ServerStartError(
                f"ossd binary not found at {self.binary}; build it with `cargo build -p ossd` "
                "or set OSSD_BIN")
        self._starts += 1
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.{self._starts}.log"
        # Hermetic: no OSSD_* settings (config file, domains, ...) leak in from the caller.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
        env["OSSD_ACCESS_KEY_ID"] = self.ak
        env["OSSD_ACCESS_KEY_SECRET"] = self.sk
        env.setdefault("RUST_BACKTRACE", "1")
        errf = open(self.stderr_path, "wb")
        cmd = [str(self.binary), "serve", "--listen", listen, "--data", str(self.data_dir),
               *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=errf, env=env)
        errf.close()
        self.stdout_lines = []
        lines = queue.Queue()
        proc = self.proc

        def pump():
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ServerStartError(
                    f"ossd did not print the listening line within {START_TIMEOUT:.0f}s\n"
                    f"stdout: {self.stdout_lines!r}\nstderr:\n{self.stderr_tail()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                rc = proc.wait()
                raise ServerStartError(
                    f"ossd exited with {rc} before listening\ncmd: {cmd}\n"
                    f"stdout: {self.stdout_lines!r}\nstderr:\n{self.stderr_tail()}")
            m = LISTEN_RE.match(line)
            if m:
                self.scheme, self.addr = m.group(1), m.group(2)
                return self

    def stderr_tail(self, n=60):
        try:
            text = self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return "<no stderr>"
        return "\n".join(text.splitlines()[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Ask the server to stop; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return self.last_returncode
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.last_returncode = None
                return None
        self.last_returncode = proc.returncode
        return proc.returncode

    def _kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self, same_port=False):
        """SIGTERM, wait, start again on the same data dir (new port unless same_port)."""
        old = self.addr
        self.stop()
        if same_port and old:
            try:
                return self.start(listen=old)
            except ServerStartError:
                pass
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------------------
# Checksums computed in the test (never taken from the server)

def md5_etag(data):
    return hashlib.md5(data).hexdigest().upper()


def b64md5(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc64(data, init=0):
    """CRC-64/XZ as OSS uses it, via the SDK's own implementation."""
    import oss2.utils
    c = oss2.utils.Crc64(init)
    c.update(data)
    return c.crc


# ---------------------------------------------------------------------------
# Independent V1 header signer (oss-api.md 1.1), for requests the SDKs cannot make

SUBRESOURCES = {
    "acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle",
    "delete", "append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token",
    "position", "replication", "bucketInfo", "symlink", "x-oss-process",
    "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "worm", "inventory", "policy", "versioning", "versions", "versionId", "stat",
    "continuation-token", "restore", "qos", "live", "comp",
}


def v1_string_to_sign(method, content_md5, content_type, date, headers, resource):
    oss = sorted((k.lower().strip(), str(v).strip()) for k, v in headers.items()
                 if k.lower().startswith("x-oss-"))
    canon = "".join(f"{k}:{v}\n" for k, v in oss)
    return f"{method}\n{content_md5}\n{content_type}\n{date}\n{canon}{resource}"


def v1_signature(secret, string_to_sign):
    mac = hmac.new(secret.encode(), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def v1_resource(bucket, key, query):
    if bucket is None:
        res = "/"
    else:
        res = f"/{bucket}/" + (key or "")
    subs = sorted((k, v) for k, v in (query or {}).items() if k in SUBRESOURCES)
    if subs:
        res += "?" + "&".join(k if v in (None, "") else f"{k}={v}" for k, v in subs)
    return res


def http_date(ts=None):
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=True)


def raw_request(endpoint, method, bucket=None, key=None, query=None, headers=None, body=b"",
                ak=None, sk=None, date=None, sign=True, timeout=30):
    """Path-style request to the server, V1-signed by hand unless sign=False."""
    headers = dict(headers or {})
    query = dict(query or {})
    if sign:
        date = date or http_date()
        headers["Date"] = date
        sts = v1_string_to_sign(method, headers.get("Content-MD5", ""),
                                headers.get("Content-Type", ""), date, headers,
                                v1_resource(bucket, key, query))
        headers["Authorization"] = f"OSS {ak}:{v1_signature(sk, sts)}"
    path = "/"
    if bucket is not None:
        path += quote(bucket, safe="") + "/"
        if key:
            path += quote(key, safe="")
    if query:
        path += "?" + "&".join(quote(k, safe="") + ("" if v in (None, "") else "=" + quote(v, safe=""))
                               for k, v in query.items())
    return requests.request(method, endpoint + path, headers=headers, data=body, timeout=timeout)


def error_fields(body):
    """Parse an OSS <Error> XML body into a dict of its child elements."""
    if isinstance(body, requests.Response):
        body = body.content
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: (child.text or "") for child in root}


# ---------------------------------------------------------------------------
# A local upload-callback receiver (callback.md sections 3 and 4)

class CallbackReceiver:
    """Threaded HTTP server on 127.0.0.1 that records every callback request."""

    def __init__(self):
        import http.server

        self.calls = []
        self.status = 200
        self.body = b'{"Status":"OK"}'
        self.content_type = "application/json"
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                receiver.calls.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers.items()), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Type", receiver.content_type)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(receiver.body)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/cb"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def b64json(obj):
    import json
    return base64.b64encode(json.dumps(obj).encode()).decode()


def verify_callback_signature(call, public_key_pem=None):
    """Check a recorded callback's RSA-MD5 signature (callback.md 3.3/3.4).

    Returns the public-key URL the server advertised."""
    from urllib.parse import unquote
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    headers = {k.lower(): v for k, v in call["headers"].items()}
    key_url = base64.b64decode(headers["x-oss-pub-key-url"]).decode()
    if public_key_pem is None:
        public_key_pem = requests.get(key_url, timeout=10).content
    key = serialization.load_pem_public_key(public_key_pem)
    path, _, query = call["path"].partition("?")
    sts = unquote(path).encode() + (("?" + query).encode() if query else b"") + b"\n" + call["body"]
    key.verify(base64.b64decode(headers["authorization"]), sts, padding.PKCS1v15(), hashes.MD5())
    return key_url


# ---------------------------------------------------------------------------
# Cluster mode: two nodes on PostgreSQL + S3 behind a round-robin TCP proxy

class RoundRobinProxy:
    """Accepts on `listen` and hands each new connection to the next backend in turn."""

    def __init__(self, listen):
        import socket
        host, port = listen.rsplit(":", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, int(port)))
        self.sock.listen(512)
        self.addr = "%s:%d" % self.sock.getsockname()
        self.backends = []
        self.turn = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.backends:
                client.close()
                continue
            backend = self.backends[self.turn % len(self.backends)]
            self.turn += 1
            try:
                host, port = backend.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        import socket
        try:
            while True:
                data = src.recv(262144)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s_, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s_.shutdown(how)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


class ClusterOssd(OssdServer):
    """Two `ossd serve` nodes sharing a fresh PostgreSQL database and S3 prefix, reached
    through one address that spreads connections over both."""

    SHARED_FILES = ("sts_token_key", "credentials.json")

    def __init__(self, data_dir, ak=None, sk=None, extra_args=(), binary=None, single=False):
        super().__init__(data_dir, ak, sk, extra_args, binary)
        self.pg_url, self.s3_endpoint = CLUSTER.split("|")
        self.db = None
        self.proxy = None
        self.peer = None
        self.base_args = list(extra_args)

    def _create_stores(self):
        import subprocess as sp
        self.db = "ossd_" + uuid.uuid4().hex[:12]
        host_port = self.pg_url.split("@", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        user = self.pg_url.split("://", 1)[1].split("@", 1)[0]
        sp.run(["psql", "-h", host, "-p", port, "-U", user, "-d", "postgres", "-c", f"CREATE DATABASE {self.db}"],
               check=True, capture_output=True, timeout=60)
        requests.put(f"{self.s3_endpoint}/ossd-cluster", timeout=30)

    def start(self, listen="127.0.0.1:0"):
        if self.db is None:
            self._create_stores()
        self.proxy = RoundRobinProxy(listen)
        cluster_args = [
            "--meta", f"{self.pg_url.rstrip('/')}/{self.db}",
            "--blobs", f"s3://ossd-cluster/{self.db}?endpoint={self.s3_endpoint}&region=us-east-1",
            "--public-endpoint", self.proxy.addr,
            "--callback-private-key", str(self.data_dir / "cluster_callback_key.pem"),
        ]
        self.extra_args = self.base_args + cluster_args
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "ossdtest")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "ossdtestsecret")
        super().start()
        node0 = self.addr
        peer_dir = self.data_dir.parent / f"{self.data_dir.name}-node1"
        peer_dir.mkdir(parents=True, exist_ok=True)
        import shutil
        for name in self.SHARED_FILES:
            if (self.data_dir / name).exists():
                shutil.copy2(self.data_dir / name, peer_dir / name)
        self.peer = OssdServer(peer_dir, self.ak, self.sk, extra_args=self.extra_args, binary=self.binary, single=True)
        self.peer.start()
        self.proxy.backends = [node0, self.peer.addr]
        self.addr = self.proxy.addr
        return self

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        if self.peer is not None:
            self.peer.stop(sig, timeout)
            self.peer = None
        rc = super().stop(sig, timeout)
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        return rc

    def restart(self, same_port=False):
        old = self.addr
        self.stop()
        return self.start(listen=old if same_port and old else "127.0.0.1:0")
