#!/usr/bin/env python3
# Drives ossd for bench/profile/callgrind.sh: N plain 4 KiB PUTs, and with "1" as many PUTs with a
# callback to a receiver in this process that answers {"Status":"OK"}.
#   callback_client.py PORT N 0|1
import json, sys, threading, base64, http.server, oss2
port, n, with_cb = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        b = b'{"Status":"OK"}'
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
auth = oss2.Auth("benchak", "benchsecretkey")
b = oss2.Bucket(auth, f"http://127.0.0.1:{port}", "cgbucket")
try: b.create_bucket()
except Exception as e: pass
# path-style endpoint: oss2 uses virtual host by default; override
body = b"x" * 4096
cb = base64.b64encode(json.dumps({"callbackUrl": f"http://127.0.0.1:{srv.server_port}/cb",
      "callbackBody": "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}"}).encode()).decode()
for i in range(n):
    b.put_object(f"plain{i}", body)
    if with_cb:
        r = b.put_object(f"cb{i}", body, headers={"x-oss-callback": cb})
        assert r.status == 200, r.status
print("ok")
