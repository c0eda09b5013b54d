"""Independent upload-callback receivers for the callback suites (callback.md sections 3 and 4).

`Receiver` is a small threaded HTTP/1.1 server on 127.0.0.1 written on raw sockets, so it
sees the request exactly as sent (raw request target, header order, body bytes) and can
answer in ways a normal framework would refuse to (no Content-Length, chunked, a BOM, a
close without an answer).  Every request is recorded, and its signature is verified here,
independently of the server under test, with `cryptography`:

    key  = PEM fetched from base64-decode(x-oss-pub-key-url)
    msg  = url_decode(path) + ('?' + raw query if any) + '\\n' + body
    public_key.verify(base64-decode(authorization), msg, PKCS1v15(), MD5())
"""

import base64
import json
import socket
import socketserver
import threading
import time
from urllib.parse import unquote, unquote_to_bytes

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

_KEY_CACHE = {}
_KEY_LOCK = threading.Lock()


def fetch_public_key(url, fresh=False):
    with _KEY_LOCK:
        key = None if fresh else _KEY_CACHE.get(url)
    if key is None:
        resp = requests.get(url, timeout=10)
        resp.raise_for_status()
        key = serialization.load_pem_public_key(resp.content)
        with _KEY_LOCK:
            _KEY_CACHE[url] = key
    return key


def string_to_sign(target, body):
    """callback.md 3.3: percent-decoded path, raw '?query' if any, '\\n', raw body."""
    path, sep, query = target.partition("?")
    out = unquote_to_bytes(path)
    if sep and query:
        out += b"?" + query.encode("latin-1")
    return out + b"\n" + body


def verify_signature(target, headers, body):
    """Returns (ok, key_url, error)."""
    try:
        key_url = base64.b64decode(headers["x-oss-pub-key-url"], validate=True).decode()
    except Exception as e:  # noqa: BLE001 - anything wrong with the header is a failure
        return False, None, f"bad x-oss-pub-key-url: {e!r}"
    if not key_url.startswith(("http://", "https://")):
        return False, key_url, f"key url is not http(s): {key_url!r}"
    try:
        sig = base64.b64decode(headers["authorization"], validate=True)
    except Exception as e:  # noqa: BLE001
        return False, key_url, f"bad authorization header: {e!r}"
    try:
        key = fetch_public_key(key_url)
    except Exception as e:  # noqa: BLE001
        return False, key_url, f"cannot fetch public key: {e!r}"
    message = string_to_sign(target, body)
    try:
        key.verify(sig, message, padding.PKCS1v15(), hashes.MD5())
    except InvalidSignature:
        # The cache is keyed by URL, and a later ossd in the same test run may listen on a port
        # an earlier one used, with another key: fetch once more before calling it a failure
        # (as a receiver would after a key rotation).
        try:
            key = fetch_public_key(key_url, fresh=True)
            key.verify(sig, message, padding.PKCS1v15(), hashes.MD5())
        except InvalidSignature:
            return False, key_url, "signature does not verify"
        except Exception as e:  # noqa: BLE001
            return False, key_url, f"cannot fetch public key: {e!r}"
    return True, key_url, None


class Call:
    """One recorded callback request."""

    def __init__(self, method, target, version, header_list, body, peer):
        self.method = method
        self.target = target  # raw request target, e.g. '/cb%20x?a=1'
        self.path, _, self.query = target.partition("?")
        self.version = version
        self.header_list = header_list  # [(name, value)] as received
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body
        self.peer = peer
        self.received_at = time.monotonic()
        self.verified, self.key_url, self.verify_error = verify_signature(target, self.headers, body)

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def form(self):
        """The body as an ordered list of (name, value), values percent-decoded (no '+')."""
        text = self.body.decode("ascii")  # a form body must be pure ASCII once encoded
        out = []
        for item in text.split("&"):
            name, _, value = item.partition("=")
            out.append((name, unquote(value, errors="strict")))
        return out

    def raw_form(self):
        text = self.body.decode("ascii")
        return dict(item.partition("=")[::2] for item in text.split("&"))

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Call {self.method} {self.target} {len(self.body)}B verified={self.verified}>"


class Receiver:
    """A callback receiver on 127.0.0.1.

    Answer settings (change them between uploads as needed):
      status, body (bytes), content_type, headers (extra list of (name, value)),
      delay (seconds before answering), mode:
        'normal'    status line, Content-Type, Content-Length, extra headers, body
        'chunked'   Transfer-Encoding: chunked, no Content-Length
        'no-length' no Content-Length, body, then close
        'raw'       send `raw` bytes verbatim, then close
        'drop'      close the connection without answering
      responder: optional callable(call) -> None that may change the settings per request.
    """

    def __init__(self, status=200, body=b'{"Status":"OK"}', content_type="application/json",
                 headers=(), delay=0.0, mode="normal", raw=b"", port=0, host="127.0.0.1",
                 ssl_context=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers)
        self.delay = delay
        self.mode = mode
        self.raw = raw
        self.responder = None
        self.calls = []
        self.connections = 0
        # HTTPS: `ssl_context` (server side) wraps every connection; the TLS server names
        # (SNI) the clients sent are recorded, None for a handshake without SNI.
        self.ssl_context = ssl_context
        self.sni_names = []
        if ssl_context is not None:
            def record_sni(_sock, name, _ctx):
                self.sni_names.append(name)
            ssl_context.sni_callback = record_sni
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with receiver._cond:
                    receiver.connections += 1
                    receiver._cond.notify_all()
                sock = self.request
                if receiver.ssl_context is not None:
                    try:
                        sock = receiver.ssl_context.wrap_socket(sock, server_side=True)
                    except OSError:
                        return  # the client refused our certificate
                receiver._serve(sock, self.client_address)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.host = host
        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    # -- helpers for tests ------------------------------------------------
    def url(self, path="/cb", host=None):
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def wait_calls(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.calls) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.calls)} calls, expected {n}")
                self._cond.wait(left)
            return list(self.calls)

    def reset(self):
        with self._lock:
            self.calls.clear()
            self.connections = 0

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the HTTP side ------------------------------------------------------
    def _serve(self, sock, peer):
        sock.settimeout(15)
        f = sock.makefile("rb")
        try:
            while True:
                call = self._read_request(f, peer)
                if call is None:
                    return
                with self._cond:
                    self.calls.append(call)
                    self._cond.notify_all()
                if self.responder is not None:
                    self.responder(call)
                if self.delay:
                    time.sleep(self.delay)
                keep = self._answer(sock)
                if not keep or call.headers.get("connection", "").lower() == "close":
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                f.close()
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(f, peer):
        line = f.readline(65536)
        if not line:
            return None
        method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        header_list = []
        while True:
            h = f.readline(65536)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").rstrip("\r\n").partition(":")
            header_list.append((name.strip(), value.strip()))
        headers = {k.lower(): v for k, v in header_list}
        if "content-length" in headers:
            body = f.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(f.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while f.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += f.read(size)
                f.readline()
        else:
            body = b""
        return Call(method, target, version, header_list, body, peer)

    def _answer(self, sock):
        """Sends the configured answer; returns whether the connection may be kept."""
        mode = self.mode
        if mode == "drop":
            return False
        if mode == "raw":
            sock.sendall(self.raw)
            return False
        reason = {200: "OK", 201: "Created", 301: "Moved Permanently", 302: "Found",
                  404: "Not Found", 500: "Internal Server Error"}.get(self.status, "Status")
        head = [f"HTTP/1.1 {self.status} {reason}"]
        if self.content_type:
            head.append(f"Content-Type: {self.content_type}")
        for k, v in self.headers:
            head.append(f"{k}: {v}")
        if mode == "normal":
            head.append(f"Content-Length: {len(self.body)}")
            payload = self.body
        elif mode == "chunked":
            head.append("Transfer-Encoding: chunked")
            payload = b""
            for i in range(0, len(self.body), 7):
                piece = self.body[i:i + 7]
                payload += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            payload += b"0\r\n\r\n"
        elif mode == "no-length":
            payload = self.body
        else:
            raise ValueError(mode)
        head.append("Connection: close")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        return False


def closed_port():
    """A loopback port nobody listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def b64(text):
    if isinstance(text, (dict, list)):
        text = json.dumps(text, ensure_ascii=False)
    if isinstance(text, str):
        text = text.encode("utf-8")
    return base64.b64encode(text).decode()
