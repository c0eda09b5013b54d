"""A minimal application server for uploads with callbacks, in Python with the standard library
only:

  GET  /             an HTML form that uploads one file straight to ossd (PostObject), with the
                     policy signed here and a callback to this server;
  GET  /post-policy  the same form fields as JSON {"url", "fields"} (?key=K), for scripts and tests;
  POST /callback     the upload-callback receiver: verifies the RSA-MD5 signature (hashlib and
                     RSA's public operation, pow(s, e, n), on the key from x-oss-pub-key-url) and
                     answers {"Status":"OK", ...}; 400 when it does not verify;
  GET  /callbacks    the verified callbacks received so far.

Settings (environment): OSSD_ENDPOINT [http://127.0.0.1:9000]; OSSD_ACCESS_KEY_ID and
OSSD_ACCESS_KEY_SECRET [default: OSSD_DATA/credentials.json, which ossd writes on first start];
OSSD_DATA [<repo>/ossd-data]; BUCKET [python-callback]; HOST [127.0.0.1]; PORT [8082].
"""

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import html
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
OSSD = os.environ.get("OSSD_ENDPOINT", "http://127.0.0.1:9000").rstrip("/")
BUCKET = os.environ.get("BUCKET", "python-callback")
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8082"))


def root_key():
    if os.environ.get("OSSD_ACCESS_KEY_ID") and os.environ.get("OSSD_ACCESS_KEY_SECRET"):
        return os.environ["OSSD_ACCESS_KEY_ID"], os.environ["OSSD_ACCESS_KEY_SECRET"]
    data = Path(os.environ.get("OSSD_DATA", HERE.parent.parent / "ossd-data"))
    path = data / "credentials.json"
    if not path.exists():
        raise SystemExit(f"start ossd first (it writes its key pair to {path}) or set OSSD_ACCESS_KEY_*")
    c = json.loads(path.read_text())
    return c["access_key_id"], c["access_key_secret"]


AK, SK = root_key()


def put_bucket():
    """PutBucket, V1-signed by hand: the one request this server sends to ossd itself."""
    date = email.utils.formatdate(usegmt=True)
    sig = base64.b64encode(hmac.new(SK.encode(), f"PUT\n\n\n{date}\n/{BUCKET}/".encode(), hashlib.sha1).digest())
    req = urllib.request.Request(f"{OSSD}/{BUCKET}/", method="PUT",
                                 headers={"Date": date, "Authorization": f"OSS {AK}:{sig.decode()}"})
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.HTTPError as e:
        body = e.read()
        if b"BucketAlreadyExists" not in body:
            raise SystemExit(f"PutBucket failed: {e.code} {body!r}") from e


# --- the PostObject policy, with a callback to this server ----------------------------------

def post_form(key, self_url):
    callback = base64.b64encode(json.dumps({
        "callbackUrl": f"{self_url}/callback",
        "callbackBody": '{"bucket":${bucket},"object":${object},"size":${size},"note":${x:note}}',
        "callbackBodyType": "application/json",
    }).encode()).decode()
    expiration = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": BUCKET}, ["eq", "$key", key], ["content-length-range", 0, 10 * 1024 * 1024],
        {"callback": callback}]}).encode()).decode()
    signature = base64.b64encode(hmac.new(SK.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {"url": f"{OSSD}/{BUCKET}/", "fields": {
        "key": key, "policy": policy, "OSSAccessKeyId": AK, "Signature": signature,
        "callback": callback, "x:note": "from python-callback"}}


# --- RSA-MD5 verification with the standard library -----------------------------------------

def _der(data, pos):
    """One DER element at `pos`: (tag, content, position after it)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def rsa_public_key(pem):
    """(n, e) of a PEM SubjectPublicKeyInfo RSA key."""
    b64 = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    _, spki, _ = _der(base64.b64decode(b64), 0)
    _, _algorithm, pos = _der(spki, 0)
    tag, bits, _ = _der(spki, pos)
    if tag != 0x03 or bits[0] != 0:
        raise ValueError("not an RSA public key")
    _, seq, _ = _der(bits[1:], 0)
    _, n, pos = _der(seq, 0)
    _, e, _ = _der(seq, pos)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


# DigestInfo prefix of MD5 (RFC 8017 9.2, note 1).
MD5_DIGEST_INFO = bytes.fromhex("3020300c06082a864886f70d020505000410")


def rsa_md5_verify(pem, message, signature):
    """PKCS#1 v1.5: the signature raised to e mod n must be exactly the expected encoding."""
    n, e = rsa_public_key(pem)
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    t = MD5_DIGEST_INFO + hashlib.md5(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big"), expected)


_KEYS = {}


def public_key(url):
    # Trust only the key of the ossd we talk to: anyone can sign with a key of their own.
    if not url.startswith(OSSD + "/"):
        raise ValueError(f"untrusted public key URL {url}")
    if url not in _KEYS:
        with urllib.request.urlopen(url, timeout=10) as r:
            _KEYS[url] = r.read().decode()
    return _KEYS[url]


def string_to_sign(target, body):
    """Percent-decoded path + raw '?query' (if any) + '\\n' + raw body."""
    path, sep, query = target.partition("?")
    out = urllib.parse.unquote_to_bytes(path)
    if sep:
        out += b"?" + query.encode("latin-1")
    return out + b"\n" + body


RECEIVED = []


class Handler(BaseHTTPRequestHandler):
    def send(self, status, content_type, body):
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            form = post_form(f"uploads/{os.urandom(4).hex()}.bin", self.server.self_url)
            inputs = "\n".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                               for k, v in form["fields"].items())
            return self.send(200, "text/html; charset=utf-8", f"""<!doctype html><title>python-callback</title>
<form method="post" action="{form['url']}" enctype="multipart/form-data">
{inputs}
<input type="file" name="file" required> <button>Upload</button>
</form><p>The answer you get is this server's reply to ossd's callback.</p>""")
        if url.path == "/post-policy":
            key = urllib.parse.parse_qs(url.query).get("key", ["uploads/file.bin"])[0]
            return self.send(200, "application/json", json.dumps(post_form(key, self.server.self_url)))
        if url.path == "/callbacks":
            return self.send(200, "application/json", json.dumps(RECEIVED))
        self.send(404, "text/plain", "not found")

    def do_POST(self):
        if not self.path.startswith("/callback"):
            return self.send(404, "text/plain", "not found")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            key_url = base64.b64decode(self.headers.get("x-oss-pub-key-url", "")).decode()
            signature = base64.b64decode(self.headers.get("authorization", ""))
            ok = rsa_md5_verify(public_key(key_url), string_to_sign(self.path, body), signature)
        except (ValueError, OSError) as e:
            print(f"callback not verified: {e}", flush=True)
            ok = False
        if not ok:
            return self.send(400, "application/json", '{"Status":"BadSignature"}')
        variables = json.loads(body)
        RECEIVED.append(variables)
        print(f"callback verified: {variables['object']} ({variables['size']} bytes)", flush=True)
        self.send(200, "application/json", json.dumps({"Status": "OK", "verified": True,
                                                       "object": variables["object"]}))

    def log_message(self, *args):
        pass


def main():
    put_bucket()
    server = ThreadingHTTPServer((HOST, PORT), Handler)
    server.self_url = f"http://{HOST}:{server.server_address[1]}"
    print(f"python-callback listening on {server.self_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
