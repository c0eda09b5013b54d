"""Two stateless ossd nodes on one PostgreSQL database and one shared blob directory.

Each node has its own data directory (node id, keys) and listens on its own port; clients are
pinned to different nodes within a test: write on one, read, list, complete and replay on the
other. Needs PostgreSQL's server binaries: skipped with the reason on a developer machine
without them, never skipped in CI (CI=true makes a missing PostgreSQL a failure).
"""

import os
import signal
import socket
import subprocess
import threading
import time

import oss2
import pytest
import requests

import pg_server
import seaweed_server
from conftest import oss2_bucket
from ossd_helpers import (OssdServer, ServerStartError, b64json, crc64, ossd_binary, random_credentials,
                          unique_bucket)
from receivers import Receiver, closed_port
from test_storage_races import intact, race, status_of
from test_sts import arn, config_text, rpc_call

# Manages its own processes and looks at their data directories.
pytestmark = pytest.mark.single_node

why_not = pg_server.available() or seaweed_server.available()
if why_not and os.environ.get("CI") != "true":
    pytest.skip(f"scale-out suite skipped: {why_not}", allow_module_level=True)


@pytest.fixture(scope="module")
def pg():
    if why_not:
        pytest.fail(f"CI must run the scale-out suite: {why_not}")
    server = pg_server.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seaweed():
    server = seaweed_server.SeaweedServer().start()
    server.new_bucket("ossd-blobs")
    yield server
    server.stop()


class Cluster:
    """N ossd nodes sharing a fresh database, a blob directory, root key, STS key, callback key."""

    def __init__(self, pg, tmp, seaweed=None, bucket_for_sts="scale-sts", n=2, extra=()):
        self.pg, self.tmp, self.seaweed = pg, tmp, seaweed
        self.db = pg.new_database()
        if seaweed:
            self.prefix = self.db
            self.blobs = f"s3://ossd-blobs/{self.prefix}?endpoint={seaweed.endpoint}&region=us-east-1"
        else:
            self.blobs = tmp / "shared-blobs"
        self.ak, self.sk = random_credentials()
        self.sts_secret = "scale-sts-secret-" + os.urandom(6).hex()
        self.config = tmp / "ossd.toml"
        self.config.write_text(config_text(bucket_for_sts, self.sts_secret))
        self.key = tmp / "callback_key.pem"
        self.extra = list(extra)
        self.nodes = [self.start_node(i) for i in range(n)]

    def args(self, i, sts_secret=None):
        return ["--meta", self.pg.url(self.db), "--blobs", str(self.blobs), "--config", str(self.config),
                "--callback-private-key", str(self.key), "--sweep-interval-secs", "1", "--sweep-idle-secs", "0",
                "--reclaim-grace-secs", "1", *(["--sts-secret", sts_secret] if sts_secret else []), *self.extra]

    def start_node(self, i, sts_secret=None):
        if i > 0 and not self.key.exists():
            time.sleep(0.1)
        node = OssdServer(self.tmp / f"node{i}", ak=self.ak, sk=self.sk, extra_args=self.args(i, sts_secret))
        node.start()
        return node

    def bucket(self, i, name, **kw):
        return oss2_bucket(self.nodes[i], name, **kw)

    def stop(self):
        for n in self.nodes:
            n.stop()

    def blob_files(self):
        if self.seaweed:
            return self.seaweed.objects("ossd-blobs", f"{self.prefix}/blobs/")
        return {p.name for p in self.blobs.glob("*/*") if p.is_file()}

    def referenced(self):
        return set(self.pg.psql("SELECT blob FROM blob_refs", db=self.db).split())


@pytest.fixture(params=["shared-dir", "seaweedfs"])
def cluster(request, pg, tmp_path, monkeypatch):
    """Two nodes on PostgreSQL, with blobs in a shared directory or in SeaweedFS over S3."""
    seaweed = request.getfixturevalue("seaweed") if request.param == "seaweedfs" else None
    # The usual S3 credential variables (SeaweedFS without an s3 config accepts any).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ossdtest")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ossdtestsecret")
    c = Cluster(pg, tmp_path, seaweed)
    yield c
    c.stop()


def test_objects_written_on_one_node_are_served_by_the_other(cluster):
    name = unique_bucket("scale")
    a = cluster.bucket(0, name)
    a.create_bucket()
    b = cluster.bucket(1, name)
    data = os.urandom(300 * 1024)
    a.put_object("dir/one", data, headers={"x-oss-meta-who": "node0", "Content-Type": "text/x-test"})
    r = b.get_object("dir/one")
    assert r.read() == data and r.headers["x-oss-meta-who"] == "node0"
    assert int(r.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    b.put_object("dir/two", b"two")
    assert [o.key for o in oss2.ObjectIterator(a, prefix="dir/")] == ["dir/one", "dir/two"]
    listing = a.list_objects(delimiter="/")
    assert listing.prefix_list == ["dir/"]
    # Multipart: initiated on one node, parts on both, completed on the other.
    up = a.init_multipart_upload("mp").upload_id
    p1, p2 = os.urandom(200 * 1024), os.urandom(5000)
    e1 = a.upload_part("mp", up, 1, p1).etag
    e2 = b.upload_part("mp", up, 2, p2).etag
    assert [p.part_number for p in b.list_parts("mp", up).parts] == [1, 2]
    b.complete_multipart_upload("mp", up, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)])
    assert a.get_object("mp").read() == p1 + p2
    # Copy, forbid-overwrite and append positions are judged by the database.
    b.copy_object(name, "dir/one", "copy")
    assert a.get_object("copy").read() == data
    with pytest.raises(oss2.exceptions.OssError) as e:
        a.put_object("copy", b"x", headers={"x-oss-forbid-overwrite": "true"})
    assert e.value.code == "FileAlreadyExists"
    a.append_object("log", 0, b"abc")
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength):
        b.append_object("log", 0, b"def")
    b.append_object("log", 3, b"def")
    assert a.get_object("log").read() == b"abcdef"
    a.delete_object("dir/one")
    assert not b.object_exists("dir/one")
    assert b.get_object("copy").read() == data
    # A blob larger than one backend part (8 MiB): a multipart upload in the blob store; read
    # back whole and by ranges on the other node.
    big = os.urandom(20 * 1024 * 1024 + 123)
    a.put_object("big", big)
    assert b.get_object("big").read() == big
    assert b.get_object("big", byte_range=(9 * 1024 * 1024, 9 * 1024 * 1024 + 99)).read() == big[9 * 1024 * 1024:][:100]
    assert b.get_object("big", byte_range=(len(big) - 10, None)).read() == big[-10:]


def test_sts_request_replayed_to_the_other_node_is_refused(cluster):
    params = {"RoleArn": arn("writer"), "RoleSessionName": "replay", "DurationSeconds": 900, "Format": "JSON"}
    sent = {}

    def capture(method, url, data=None, timeout=None, **kw):
        sent["data"] = data
        return requests.request(method, url, data=data, timeout=timeout, **kw)

    r = rpc_call(cluster.nodes[0], params)
    assert r.status_code == 200, r.text
    # The same signed request (same nonce) sent again, to the other node.
    import test_sts
    orig = test_sts.requests.post
    try:
        test_sts.requests.post = lambda url, data=None, timeout=None: capture("POST", url, data, timeout)
        first = rpc_call(cluster.nodes[0], params)
    finally:
        test_sts.requests.post = orig
    assert first.status_code == 200
    other = cluster.nodes[1]
    replay = requests.post(other.ip_endpoint + "/", data=sent["data"], timeout=30)
    assert replay.status_code == 400, replay.text
    assert "SignatureNonceUsed" in replay.text
    # Tokens issued by one node work on the other (same STS key).
    creds = first.json()["Credentials"]
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    cluster.bucket(0, "scale-sts").create_bucket()
    oss2.Bucket(auth, other.endpoint, "scale-sts").put_object("by-token", b"t")
    assert cluster.bucket(0, "scale-sts").get_object("by-token").read() == b"t"


def test_nodes_must_share_the_sts_key(cluster):
    with pytest.raises(ServerStartError) as e:
        cluster.start_node(7, sts_secret="a-different-sts-secret-" + os.urandom(4).hex())
    assert "STS token key" in str(e.value)


def test_nodes_must_share_the_callback_key(cluster):
    """A node started with another callback signing key would sign callbacks receivers cannot
    verify with the key the others publish: it refuses to start, naming the setting."""
    args = cluster.args(8)
    args[args.index("--callback-private-key") + 1] = str(cluster.tmp / "another_callback_key.pem")
    node = OssdServer(cluster.tmp / "node8", ak=cluster.ak, sk=cluster.sk, extra_args=args)
    with pytest.raises(ServerStartError) as e:
        node.start()
    assert "callback signing key" in str(e.value), str(e.value)[-800:]


def test_ready_is_503_while_the_database_is_down(tmp_path):
    """/ready asks the metadata store: with its PostgreSQL stopped a node answers 503 (metadata
    not ok) within a bounded time while /live stays 200; once the database is back, 200 again."""
    own = pg_server.PostgresServer().start()
    node = None
    try:
        db = own.new_database()
        node = OssdServer(tmp_path / "n", extra_args=["--meta", own.url(db), "--blobs", str(tmp_path / "blobs")])
        node.start()
        ready = node.endpoint + "/_ossd/health/ready"
        assert requests.get(ready, timeout=10).status_code == 200
        own.pause()
        deadline, r = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            r = requests.get(ready, timeout=30)
            if r.status_code == 503:
                break
            time.sleep(0.5)
        assert r is not None and r.status_code == 503, r.text if r is not None else None
        assert r.json()["checks"]["metadata"] != "ok", r.text
        assert requests.get(node.endpoint + "/_ossd/health/live", timeout=10).status_code == 200
        own.resume()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and requests.get(ready, timeout=30).status_code != 200:
            time.sleep(0.5)
        assert requests.get(ready, timeout=30).status_code == 200
    finally:
        if node:
            node.stop()
        own.stop()


def cli(cluster, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSSD_")}
    r = subprocess.run([str(ossd_binary()), "callbacks", *args, "--meta", cluster.pg.url(cluster.db),
                        "--data", str(cluster.tmp / "cli-elsewhere"), "--callback-private-key", str(cluster.key)],
                       capture_output=True, text=True, timeout=60, env=env)
    return r


def test_callback_logged_on_one_node_is_listed_and_replayed_from_anywhere(cluster):
    name = unique_bucket("scale-cb")
    a = cluster.bucket(0, name)
    a.create_bucket()
    port = closed_port()
    cb = b64json({"callbackUrl": f"http://127.0.0.1:{port}/cb", "callbackBody": "bucket=${bucket}&object=${object}"})
    res = a.put_object("k", b"data", headers={"x-oss-callback": cb})
    assert res.status == 203
    listed = cli(cluster, "list")
    assert res.request_id in listed.stdout and "203" in listed.stdout, listed.stdout + listed.stderr
    with Receiver(port=port) as late:
        replayed = cli(cluster, "replay", res.request_id)
        assert replayed.returncode == 0, replayed.stderr
        (call,) = late.wait_calls(1)
        assert call.body == f"bucket={name}&object=k".encode()
        assert call.verified, (call.key_url, call.verify_error)
    shown = cli(cluster, "show", res.request_id)
    assert "200" in shown.stdout, shown.stdout


def test_node_killed_mid_upload_loses_nothing_and_leaks_nothing(cluster):
    name = unique_bucket("scale-kill")
    a = cluster.bucket(0, name)
    a.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    b = cluster.bucket(1, name)
    kept = os.urandom(100 * 1024)
    a.put_object("kept", kept)
    node0 = cluster.nodes[0]
    data = os.urandom(2 * 1024 * 1024)
    sock = socket.create_connection((node0.host, node0.port), timeout=30)
    sock.sendall((f"PUT /{name}/inflight HTTP/1.1\r\nHost: {node0.addr}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                 + data[: len(data) // 2])
    time.sleep(0.5)
    before = cluster.blob_files()
    node0.proc.send_signal(signal.SIGKILL)
    node0.proc.wait()
    node0.proc = None
    sock.close()
    assert not b.object_exists("inflight")
    b.put_object("inflight", data)  # the client's retry, on the other node
    assert b.get_object("inflight").read() == data
    assert b.get_object("kept").read() == kept
    # The killed node's half-written blob goes once its heartbeat lapses (3 s here).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if cluster.blob_files() == cluster.referenced():
            break
        time.sleep(0.5)
    assert cluster.blob_files() == cluster.referenced(), (before, cluster.blob_files() - cluster.referenced())


def test_races_across_two_nodes(cluster):
    name = unique_bucket("scale-race")
    a = cluster.bucket(0, name)
    a.create_bucket()
    b = cluster.bucket(1, name)
    failures = []
    for i in range(40):
        data = os.urandom(8 * 1024 + i)
        a.put_object(f"src{i}", data)
        copy, _ = race(lambda: b.copy_object(name, f"src{i}", f"dst{i}"), lambda: a.delete_object(f"src{i}"))
        if status_of(copy)[0] == 200 and (p := intact(a, f"dst{i}", data)):
            failures.append(p)
    for i in range(30):
        key = f"mp{i}"
        p1, p2, p1b = os.urandom(100 * 1024), os.urandom(3000), os.urandom(100 * 1024)
        up = a.init_multipart_upload(key).upload_id
        r1, r2 = a.upload_part(key, up, 1, p1), b.upload_part(key, up, 2, p2)
        parts = [oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)]
        complete, reupload = race(lambda: a.complete_multipart_upload(key, up, parts),
                                  lambda: b.upload_part(key, up, 1, p1b))
        if status_of(complete)[0] == 200:
            if (p := intact(b, key, p1 + p2)):
                failures.append(p)
            if status_of(reupload)[0] == 200:
                failures.append(f"{key}: both completed and re-uploaded")
        else:
            assert status_of(complete) == (400, "InvalidPart"), status_of(complete)
    # One key overwritten from both nodes while both read it.
    stop = time.monotonic() + 8
    versions = {}

    def writer(bk, tag):
        n = 0
        while time.monotonic() < stop and n < 60:
            body = f"{tag}-{n}-".encode() * 5000
            versions[body[:20]] = body
            bk.put_object("hot", body)
            n += 1

    def reader(bk):
        while time.monotonic() < stop:
            try:
                r = bk.get_object("hot")
            except oss2.exceptions.NoSuchKey:
                continue
            body = r.read()
            if len(body) != r.content_length or versions.get(body[:20]) != body:
                failures.append("hot: torn or foreign read")

    threads = [threading.Thread(target=writer, args=(a, "a")), threading.Thread(target=writer, args=(b, "b")),
               threading.Thread(target=reader, args=(a,)), threading.Thread(target=reader, args=(b,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]


def test_s3_credentials_from_the_config_file(pg, tmp_path, monkeypatch):
    """`[s3]` in the config file (access key id, secret from a file) reaches a SeaweedFS that
    admits only that identity, with no AWS_* in the environment; a node given a wrong secret
    refuses to start (its start-up sweep cannot list the store) and says why, secret unshown."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    weed = seaweed_server.SeaweedServer(s3_identity=("ossdcfg", "ossdcfg-secret-" + os.urandom(4).hex())).start()
    try:
        weed.new_bucket("authblobs")
        blobs = f"s3://authblobs/n?endpoint={weed.endpoint}&region=us-east-1"

        def node(name, secret):
            secret_file = tmp_path / f"{name}.secret"
            secret_file.write_text(secret + "\n")
            config = tmp_path / f"{name}.toml"
            config.write_text(f'[s3]\naccess_key_id = "ossdcfg"\nsecret_access_key_file = "{secret_file}"\n')
            return OssdServer(tmp_path / name, extra_args=["--meta", pg.url(pg.new_database()), "--blobs", blobs,
                                                           "--config", str(config)])

        right = node("right", weed.identity[1]).start()
        try:
            bucket = oss2_bucket(right, "s3cfg")
            bucket.create_bucket()
            bucket.put_object("k", b"through the configured identity" * 1000)
            assert bucket.get_object("k").read() == b"through the configured identity" * 1000
            assert weed.identity[1] not in right.stderr_path.read_text("utf-8", "replace")
        finally:
            right.stop()
        with pytest.raises(ServerStartError) as e:
            node("wrong", "not-the-secret-" + os.urandom(4).hex()).start()
        assert "SignatureDoesNotMatch" in str(e.value), str(e.value)[-800:]
        assert "not-the-secret" not in str(e.value)
    finally:
        weed.stop()
