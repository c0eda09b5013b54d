"""Running ossd as a service (issue 15): health, Prometheus metrics, access logs and log levels,
TLS with SIGHUP reload, buckets created at start, `ossd --version`.

Every test drives a real `ossd serve` on a loopback port.
"""

import datetime
import http.client
import json
import re
import shutil
import signal
import ssl
import subprocess
import time

import oss2
import pytest
import requests

from ossd_helpers import OssdServer, ServerStartError, b64json, ossd_binary, raw_request, unique_bucket
from receivers import Receiver


def start(tmp_path, *args, env=None, **kw):
    server = OssdServer(tmp_path / "data", extra_args=list(args), **kw)
    if env:
        import os
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            server.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        server.start()
    return server


@pytest.fixture
def server(tmp_path):
    s = start(tmp_path, "--callback-timeout-ms", "1000")
    yield s
    s.stop()


def version_of_binary():
    out = subprocess.run([str(ossd_binary()), "--version"], capture_output=True, text=True, check=True).stdout
    m = re.fullmatch(r"ossd (\S+)\n", out)
    assert m, out
    return m.group(1)


# ---------------------------------------------------------------- health ---

def test_health_live_and_ready_need_no_credentials(server):
    version = version_of_binary()
    live = requests.get(server.endpoint + "/_ossd/health/live", timeout=10)
    assert live.status_code == 200
    assert live.json() == {"status": "live", "server": "ossd", "version": version}
    ready = requests.get(server.endpoint + "/_ossd/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"metadata": "ok", "blobs": "ok", "keys": "ok"}
    assert ready.json()["version"] == version
    # Polling every second (or much faster) is fine: each probe is a few milliseconds.
    t0 = time.monotonic()
    for _ in range(20):
        assert requests.get(server.endpoint + "/_ossd/health/ready", timeout=10).status_code == 200
    assert time.monotonic() - t0 < 5
    # `_ossd` cannot be a bucket, so nothing shadows these paths.
    created = raw_request(server.endpoint, "PUT", bucket="_ossd", ak=server.ak, sk=server.sk)
    assert created.status_code >= 400
    assert "_ossd" not in [b.name for b in oss2.Service(oss2.Auth(server.ak, server.sk), server.endpoint)
                           .list_buckets().buckets]
    assert requests.head(server.endpoint + "/_ossd/health/live", timeout=10).status_code == 200
    assert requests.get(server.endpoint + "/_ossd/nope", timeout=10).status_code == 404


@pytest.mark.single_node
def test_ready_is_503_when_the_blob_store_cannot_write(server):
    blobs = server.data_dir / "blobs"
    moved = server.data_dir / "blobs.away"
    blobs.rename(moved)
    blobs.write_text("not a directory")
    try:
        r = requests.get(server.endpoint + "/_ossd/health/ready", timeout=10)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not ready"
        assert body["checks"]["metadata"] == "ok"
        assert body["checks"]["blobs"] != "ok"
        assert requests.get(server.endpoint + "/_ossd/health/live", timeout=10).status_code == 200
    finally:
        blobs.unlink()
        moved.rename(blobs)
    assert requests.get(server.endpoint + "/_ossd/health/ready", timeout=10).status_code == 200


# --------------------------------------------------------------- metrics ---

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def scrape(server, headers=None):
    r = requests.get(server.endpoint + "/_ossd/metrics", headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a metrics line: {line!r}"
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.single_node
def test_metrics_move_with_the_requests_made(server):
    auth = oss2.Auth(server.ak, server.sk)
    name = unique_bucket("metrics")
    bucket = oss2.Bucket(auth, server.endpoint, name)
    bucket.create_bucket()
    before = scrape(server)
    # Start-up sweep ran before the port opened.
    assert value(before, "ossd_orphan_sweeps_total") >= 1

    data = b"m" * 5000
    bucket.put_object("k1", data)
    bucket.put_object("k1", data)  # overwrite: the first version's blob is reclaimed
    assert bucket.get_object("k1").read() == data
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("missing")

    with Receiver(status=500, body=b"no") as failing:
        headers = {"x-oss-callback": b64json({"callbackUrl": failing.url("/cb"), "callbackBody": "b=${bucket}"})}
        assert bucket.put_object("cb", b"x", headers=headers).status == 203
    refused = {"x-oss-callback": b64json({"callbackUrl": "http://169.254.169.254/latest", "callbackBody": "a=b"})}
    assert bucket.put_object("refused", b"x", headers=refused).status == 203

    deadline = time.monotonic() + 10
    while True:
        after = scrape(server)
        if value(after, "ossd_reclaimed_blobs_total") > value(before, "ossd_reclaimed_blobs_total") \
                or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    def delta(metric, **labels):
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert delta("ossd_requests_total", operation="PutObject", status_class="2xx") == 4  # two + two 203
    assert delta("ossd_requests_total", operation="GetObject", status_class="2xx") == 1
    assert delta("ossd_requests_total", operation="GetObject", status_class="4xx") == 1
    assert delta("ossd_requests_total", operation="Metrics", status_class="2xx") >= 1
    assert delta("ossd_request_duration_seconds_count", operation="PutObject") == 4
    assert delta("ossd_request_duration_seconds_bucket", operation="GetObject", le="+Inf") == 2
    assert delta("ossd_received_bytes_total") >= 2 * len(data) + 2
    assert delta("ossd_sent_bytes_total") >= len(data)
    assert value(after, "ossd_in_flight_requests") == 1  # the scrape itself
    assert delta("ossd_callback_deliveries_total", outcome="203") == 2
    assert delta("ossd_callback_delivery_duration_seconds_count") == 2
    assert delta("ossd_callback_destination_refusals_total") == 1
    assert delta("ossd_reclaimed_blobs_total") >= 1
    assert value(after, "ossd_store_errors_total") == 0


@pytest.mark.single_node
def test_metrics_bearer_token(tmp_path):
    s = start(tmp_path, "--metrics-token", "s3cret-metrics-token")
    try:
        r = requests.get(s.endpoint + "/_ossd/metrics", timeout=10)
        assert r.status_code == 401
        assert "Bearer" in r.headers["www-authenticate"]
        wrong = requests.get(s.endpoint + "/_ossd/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        ok = scrape(s, headers={"Authorization": "Bearer s3cret-metrics-token"})
        assert value(ok, "ossd_requests_total", operation="Metrics", status_class="4xx") == 2
        # Health stays open.
        assert requests.get(s.endpoint + "/_ossd/health/live", timeout=10).status_code == 200
    finally:
        s.stop()


# ------------------------------------------------------------------ logs ---

def access_lines(server):
    out = []
    for line in server.stderr_path.read_text("utf-8", "replace").splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("target") == "ossd::access":
                out.append(rec)
    return out


@pytest.mark.single_node
def test_json_access_log_one_line_per_request_and_no_secrets(tmp_path):
    s = start(tmp_path, "--log-format", "json")
    try:
        name = unique_bucket("logs")
        bucket = oss2.Bucket(oss2.Auth(s.ak, s.sk), s.endpoint, name)
        bucket.create_bucket()
        put = bucket.put_object("a.txt", b"hello")
        url = bucket.sign_url("GET", "a.txt", 60)
        got = requests.get(url, timeout=10)
        assert got.status_code == 200
        signature = re.search(r"Signature=([^&]+)", url).group(1)
        sts_like = requests.get(s.endpoint + f"/{name}/a.txt?security-token=TOKEN-SHOULD-NOT-APPEAR",
                                timeout=10)
        assert sts_like.status_code in (400, 403)
        time.sleep(0.2)
        lines = access_lines(s)
        by_id = {rec["request_id"]: rec for rec in lines}
        assert len(by_id) == len(lines), "one line per request"
        rec = by_id[put.request_id]
        assert rec["operation"] == "PutObject"
        assert rec["bucket"] == name
        assert rec["status"] == 200
        assert rec["received"] == 5
        assert rec["client_ip"] == "127.0.0.1"
        assert isinstance(rec["duration_ms"], (int, float))
        rec = by_id[got.headers["x-oss-request-id"]]
        assert (rec["operation"], rec["status"], rec["sent"]) == ("GetObject", 200, 5)
        assert sts_like.headers["x-oss-request-id"] in by_id
        text = s.stderr_path.read_text("utf-8", "replace")
        for secret in (s.sk, signature, requests.utils.unquote(signature), "TOKEN-SHOULD-NOT-APPEAR"):
            assert secret not in text
    finally:
        s.stop()


def test_text_logs_by_default_and_levels(tmp_path):
    s = start(tmp_path)
    try:
        requests.get(s.endpoint + "/_ossd/health/live", timeout=10)
        time.sleep(0.2)
        text = s.stderr_path.read_text("utf-8", "replace")
        line = next(line for line in text.splitlines() if "ossd::access" in line)
        assert not line.startswith("{")
        assert "\x1b[" not in text, "no colour codes when stderr is not a terminal"
        assert 'operation="HealthLive"' in line, line
    finally:
        s.stop()
    for args, env in ((["--log-level", "warn"], None), ([], {"RUST_LOG": "warn"}),
                      (["--log", "info,ossd::access=off"], None)):
        s = start(tmp_path / f"lvl{len(args)}{bool(env)}", *args, env=env)
        try:
            requests.get(s.endpoint + "/_ossd/health/live", timeout=10)
            time.sleep(0.2)
            assert "ossd::access" not in s.stderr_path.read_text("utf-8", "replace"), (args, env)
        finally:
            s.stop()


# ------------------------------------------------------------------- TLS ---

def make_ca_and_cert(dir_, serial_cn="ossd-test"):
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ossd test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(cn):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))

    return dir_ / "ca.pem", issue


def peer_cn(conn):
    from cryptography import x509
    der = conn.sock.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def test_tls_with_the_v2_sdk(tmp_path, monkeypatch):
    """alibabacloud-oss-v2 over HTTPS: refused while the CA is unknown, working once requests trusts
    it (REQUESTS_CA_BUNDLE, which the SDK's requests session honours)."""
    import alibabacloud_oss_v2 as oss
    ca, issue = make_ca_and_cert(tmp_path / "pki")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    c, k = issue("v2")
    cert.write_bytes(c)
    key.write_bytes(k)
    s = start(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        def client():
            cfg = oss.config.load_default()
            cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(s.ak, s.sk)
            cfg.region = "cn-hangzhou"
            cfg.endpoint = f"https://127.0.0.1:{s.port}"
            cfg.retry_max_attempts = 1
            return oss.Client(cfg)
        name = unique_bucket("tlsv2")
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        with pytest.raises(Exception) as e:
            client().put_bucket(oss.PutBucketRequest(bucket=name))
        assert "SSL" in repr(e.value) or "certificate" in repr(e.value).lower(), repr(e.value)[:500]
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        v2 = client()
        v2.put_bucket(oss.PutBucketRequest(bucket=name))
        v2.put_object(oss.PutObjectRequest(bucket=name, key="k", body=b"over tls, v2"))
        assert v2.get_object(oss.GetObjectRequest(bucket=name, key="k")).body.read() == b"over tls, v2"
    finally:
        s.stop()


def test_tls_sdk_and_sighup_reload_keeps_connections(tmp_path):
    ca, issue = make_ca_and_cert(tmp_path / "pki")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    c, k = issue("first")
    cert.write_bytes(c)
    key.write_bytes(k)
    s = start(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert s.scheme == "https"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(s.endpoint + "/_ossd/health/live", timeout=10)  # untrusted without the CA
        assert requests.get(s.endpoint + "/_ossd/health/live", verify=str(ca), timeout=10).status_code == 200
        # Plain HTTP on the TLS port gets no answer.
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(f"http://{s.addr}/_ossd/health/live", timeout=5)

        # oss2 over HTTPS with the CA trusted.
        session = oss2.Session()
        session.session.verify = str(ca)
        session.session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would win
        name = unique_bucket("tls")
        bucket = oss2.Bucket(oss2.Auth(s.ak, s.sk), f"https://127.0.0.1:{s.port}", name, session=session)
        bucket.create_bucket()
        bucket.put_object("k", b"over tls")
        assert bucket.get_object("k").read() == b"over tls"
        url = bucket.sign_url("GET", "k", 60)
        assert url.startswith("https://")
        assert requests.get(url, verify=str(ca), timeout=10).content == b"over tls"

        ctx = ssl.create_default_context(cafile=str(ca))
        held = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
        held.request("GET", "/_ossd/health/live")
        assert held.getresponse().read()
        assert peer_cn(held) == "CN=first"

        c, k = issue("second")
        cert.write_bytes(c)
        key.write_bytes(k)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:
            fresh = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
            fresh.request("GET", "/_ossd/health/ready")
            assert fresh.getresponse().status == 200
            if peer_cn(fresh) == "CN=second" or time.monotonic() > deadline:
                break
            fresh.close()
            time.sleep(0.1)
        assert peer_cn(fresh) == "CN=second"
        # The connection opened before the reload still works, on its first certificate.
        held.request("GET", "/_ossd/health/live")
        assert held.getresponse().status == 200
        assert peer_cn(held) == "CN=first"
        assert s.alive()

        # A broken file on reload keeps the working certificate.
        cert.write_text("garbage")
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert requests.get(s.endpoint + "/_ossd/health/live", verify=str(ca), timeout=10).status_code == 200
        assert "kept the previous TLS certificate" in s.stderr_tail()
    finally:
        s.stop()


def test_sighup_right_after_the_listening_line_does_not_stop_the_server(tmp_path):
    # The handler was set up by a spawned task that had often not run yet when the listening
    # line was printed: the default action of SIGHUP ended 30 of 40 fresh debug servers.
    for i in range(8):
        s = start(tmp_path / f"s{i}")
        try:
            s.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            assert s.alive(), f"start {i}: SIGHUP ended the server"
        finally:
            s.stop()


def test_sighup_without_tls_does_not_stop_the_server(server):
    server.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert server.alive()
    assert requests.get(server.endpoint + "/_ossd/health/live", timeout=10).status_code == 200


def test_bad_tls_files_fail_start_clearly(tmp_path):
    (tmp_path / "c.pem").write_text("nope")
    (tmp_path / "k.pem").write_text("nope")
    with pytest.raises(ServerStartError) as e:
        start(tmp_path, "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem"))
    assert "TLS certificate" in str(e.value) or "no certificate" in str(e.value)


# ------------------------------------------------------- buckets at start ---

CORS_XML = """<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin>
<AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>"""


def test_buckets_created_at_start_idempotently(tmp_path):
    (tmp_path / "cors.xml").write_text(CORS_XML)
    (tmp_path / "ossd.toml").write_text(
        '[[buckets]]\nname = "from-file"\nacl = "public-read"\ncors = "%s"\n' % (tmp_path / "cors.xml"))
    args = ["--config", str(tmp_path / "ossd.toml"), "--bucket", "plain-one", "--bucket", "open-one:public-read-write"]
    s = start(tmp_path, *args)
    try:
        auth = oss2.Auth(s.ak, s.sk)
        names = sorted(b.name for b in oss2.Service(auth, s.endpoint).list_buckets().buckets)
        assert names == ["from-file", "open-one", "plain-one"]
        acl = lambda n: oss2.Bucket(auth, s.endpoint, n).get_bucket_acl().acl
        assert (acl("from-file"), acl("open-one"), acl("plain-one")) == ("public-read", "public-read-write", "private")
        rules = oss2.Bucket(auth, s.endpoint, "from-file").get_bucket_cors().rules
        assert rules[0].allowed_origins == ["https://app.example.com"]
        oss2.Bucket(auth, s.endpoint, "plain-one").put_object("kept", b"still here")
        s.restart()
        assert oss2.Bucket(auth, s.endpoint, "plain-one").get_object("kept").read() == b"still here"
        assert sorted(b.name for b in oss2.Service(auth, s.endpoint).list_buckets().buckets) == names
    finally:
        s.stop()


@pytest.mark.parametrize("flag", ["Bad_Name", "_ossd", "ok-name:world"])
def test_invalid_start_up_bucket_fails_clearly(tmp_path, flag):
    with pytest.raises(ServerStartError) as e:
        start(tmp_path, "--bucket", flag)
    assert "--bucket" in str(e.value)
    assert "exited with 1" in str(e.value)


# ------------------------------------------------------ console JSON API ---

def test_console_api_is_for_the_root_key_only(tmp_path):
    policy = '{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:*"],"Resource":["acs:oss:*:*:*"]}]}'
    cfg = tmp_path / "ossd.toml"
    cfg.write_text('[sts]\nsecret = "console-api-test-secret-0123"\n\n[[sts.roles]]\nname = "all"\n'
                   'arn = "acs:ram::1234567890123456:role/all"\n' f"policy = '''{policy}'''\n")
    s = start(tmp_path, "--config", str(cfg))
    try:
        root = raw_request(s.endpoint, "GET", bucket="_ossd", key="api/callbacks", ak=s.ak, sk=s.sk)
        assert root.status_code == 200, root.text
        assert root.json() == {"entries": []}
        missing = raw_request(s.endpoint, "GET", bucket="_ossd", key="api/callbacks/NOPE", ak=s.ak, sk=s.sk)
        assert missing.status_code == 404
        wrong = raw_request(s.endpoint, "GET", bucket="_ossd", key="api/callbacks", ak=s.ak, sk="not-the-secret")
        assert wrong.status_code == 403
        assert b"SignatureDoesNotMatch" in wrong.content
        assert requests.get(s.endpoint + "/_ossd/api/callbacks", timeout=10).status_code == 403
        out = subprocess.run(
            [str(ossd_binary()), "sts", "assume-role", "--role", "all", "--config", str(cfg),
             "--data", str(s.data_dir), "--duration", "900", "--session", "console"],
            check=True, capture_output=True).stdout
        creds = json.loads(out)["Credentials"]
        sts = raw_request(s.endpoint, "GET", bucket="_ossd", key="api/callbacks",
                          headers={"x-oss-security-token": creds["SecurityToken"]},
                          ak=creds["AccessKeyId"], sk=creds["AccessKeySecret"])
        assert sts.status_code == 403, sts.text
        assert b"root access key only" in sts.content
        # The same temporary credentials do work for ordinary OSS requests (the console's
        # bucket and object pages).
        listed = raw_request(s.endpoint, "GET", headers={"x-oss-security-token": creds["SecurityToken"]},
                             ak=creds["AccessKeyId"], sk=creds["AccessKeySecret"])
        assert listed.status_code == 200, listed.text
    finally:
        s.stop()
