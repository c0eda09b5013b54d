"""An upload-callback receiver written from Alibaba Cloud's Python sample application server
(callback_app_server.py in the OSS "Upload callback" docs), ported to Python 3 with
`cryptography` in place of M2Crypto. Nothing here knows about ossd: it accepts only public keys
under http(s)://gosspublic.alicdn.com/, fetches the key from that URL, and verifies the RSA-MD5
signature over unquote(path) + query + '\\n' + body, as the sample does.

    python aliyun_sample_receiver.py PORT
"""

import base64
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


class MyHTTPRequestHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        # get public key
        pub_key_url = ""
        try:
            pub_key_url_base64 = self.headers["x-oss-pub-key-url"]
            pub_key_url = base64.b64decode(pub_key_url_base64).decode()
            if not pub_key_url.startswith("http://gosspublic.alicdn.com/") and \
                    not pub_key_url.startswith("https://gosspublic.alicdn.com/"):
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                print(f"refused key url {pub_key_url!r}", flush=True)
                return
            url_reader = urllib.request.urlopen(pub_key_url)
            pub_key = url_reader.read()
        except Exception as e:  # noqa: BLE001 - the sample answers 400 to anything odd
            print(f"pub_key_url : {pub_key_url}: Get pub key failed! {e!r}", flush=True)
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        # get authorization
        authorization_base64 = self.headers["authorization"]
        authorization = base64.b64decode(authorization_base64)

        # get callback body
        content_length = self.headers["content-length"]
        callback_body = self.rfile.read(int(content_length))

        # compose authorization string
        pos = self.path.find("?")
        if -1 == pos:
            auth_str = unquote(self.path).encode() + b"\n" + callback_body
        else:
            auth_str = unquote(self.path[0:pos]).encode() + self.path[pos:].encode() + b"\n" + callback_body

        # verify authorization
        try:
            key = serialization.load_pem_public_key(pub_key)
            key.verify(authorization, auth_str, padding.PKCS1v15(), hashes.MD5())
        except (InvalidSignature, ValueError):
            print("signature verification failed", flush=True)
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        print("signature verified", flush=True)

        # response to OSS
        resp_body = b'{"Status": "OK"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(resp_body)))
        self.end_headers()
        self.wfile.write(resp_body)


class MyHTTPServer(HTTPServer):
    def __init__(self, host, port):
        HTTPServer.__init__(self, (host, port), MyHTTPRequestHandler)


if __name__ == "__main__":
    server_port = int(sys.argv[1]) if len(sys.argv) == 2 else 23451
    server = MyHTTPServer("127.0.0.1", server_port)
    server.serve_forever()
