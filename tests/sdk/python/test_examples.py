"""examples/python-callback end to end: a real ossd, the example's app.py as its own process, a
PostObject with the fields it signs, and the callback it verifies with the standard library."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from ossd_helpers import OssdServer

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "examples" / "python-callback" / "app.py"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = OssdServer(tmp_path_factory.mktemp("example") / "data")
    server.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    env.update(OSSD_ENDPOINT=server.ip_endpoint, OSSD_ACCESS_KEY_ID=server.ak,
               OSSD_ACCESS_KEY_SECRET=server.sk, BUCKET="python-callback-e2e", PORT="0")
    proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    lines = []
    found = threading.Event()
    url = {}

    def pump():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "listening on " in line and not found.is_set():
                url["app"] = line.split("listening on ", 1)[1].strip()
                found.set()
    threading.Thread(target=pump, daemon=True).start()
    try:
        assert found.wait(20), f"app.py did not start: {lines}"
        yield url["app"], server, lines
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def upload(fields, data, url):
    parts = [(k, (None, v)) for k, v in fields.items()] + [("file", ("f.bin", data))]
    return requests.post(url, files=parts, timeout=30)


def test_page_has_the_signed_form(app):
    base, _, _ = app
    page = requests.get(base + "/", timeout=10).text
    assert 'name="policy"' in page and 'name="callback"' in page


def test_post_object_callback_verified_and_answered(app):
    base, _, lines = app
    form = requests.get(base + "/post-policy", params={"key": "uploads/e2e.bin"}, timeout=10).json()
    data = b"hello from the python example test"
    r = upload(form["fields"], data, form["url"])
    assert r.status_code == 200, r.text
    assert r.json() == {"Status": "OK", "verified": True, "object": "uploads/e2e.bin"}
    got = requests.get(base + "/callbacks", timeout=10).json()
    assert got[-1] == {"bucket": "python-callback-e2e", "object": "uploads/e2e.bin",
                       "size": len(data), "note": "from python-callback"}
    deadline = time.monotonic() + 5
    while not any("callback verified: uploads/e2e.bin" in line for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)


def test_swapped_callback_refused_by_policy(app):
    base, _, _ = app
    form = requests.get(base + "/post-policy", params={"key": "uploads/swap.bin"}, timeout=10).json()
    form["fields"]["callback"] = base64.b64encode(json.dumps(
        {"callbackUrl": "http://127.0.0.1:1/x", "callbackBody": "a=1"}).encode()).decode()
    assert upload(form["fields"], b"x", form["url"]).status_code == 403


def test_forged_callback_refused(app):
    base, server, _ = app
    key_url = base64.b64encode(f"{server.ip_endpoint}/_ossd/callback_pub_key.pem".encode()).decode()
    r = requests.post(base + "/callback", data=b'{"object":"o","size":1}', timeout=10, headers={
        "authorization": base64.b64encode(b"\x00" * 256).decode(), "x-oss-pub-key-url": key_url})
    assert r.status_code == 400
    # A key somewhere else is not trusted at all.
    r = requests.post(base + "/callback", data=b"{}", timeout=10, headers={
        "authorization": "AAAA", "x-oss-pub-key-url": base64.b64encode(b"http://127.0.0.1:1/k.pem").decode()})
    assert r.status_code == 400
