"""Upload callbacks, complete (issue 13): every parameter OSS accepts, bucket callback policies,
HTTPS receivers with private roots, the gosspublic.alicdn.com compatibility mode, `--callback-mode
oss`, and the debugging commands, driven through oss2, alibabacloud-oss-v2 and raw forms.

Receivers verify every signature on their own (receivers.py, or Alibaba's sample logic in
aliyun_sample_receiver.py); all traffic stays on loopback.
"""

import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import oss2
import alibabacloud_oss_v2 as oss
from oss2.models import CallbackPolicyInfo, PartInfo

from conftest import oss2_bucket, v2_client
from ossd_helpers import OssdServer, md5_etag, unique_bucket
from receivers import Receiver, b64, closed_port
from test_callbacks import (Inspector, assert_ok_upload, cb_headers, expect_invalid, run_cli, spec,
                            start_server as start, stored)
from test_multipart_post import encode_policy, post, v1_post_fields

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start(tmp_path_factory, "cbc")
    yield server
    server.stop()


@pytest.fixture
def bkt(srv):
    b = oss2_bucket(srv, unique_bucket("cbc"))
    b.create_bucket()
    return b


@pytest.fixture
def rcv():
    r = Receiver()
    yield r
    r.close()


def no_calls(receiver, wait=0.3):
    time.sleep(wait)
    assert receiver.calls == [] and receiver.connections == 0, receiver.calls


# ---------------------------------------------------------------------------
# Parameters

@pytest.mark.parametrize("cb", [
    {"callbackBody": "a=${bucket}"},
    {"callbackUrl": "", "callbackBody": "a=${bucket}"},
    {"callbackUrl": " ; ", "callbackBody": ""},
], ids=["missing-url", "empty-url", "blank-urls"])
def test_no_callback_url_is_a_plain_upload(srv, bkt, cb):
    """EC 0007-00000004's page: a missing or empty callbackUrl means no callback is configured."""
    data = b"plain"
    res = bkt.put_object("plain", data, headers={"x-oss-callback": b64(cb)})
    assert res.status == 200
    assert res.resp.read() == b""
    assert res.etag == md5_etag(data)
    assert bkt.get_object("plain").read() == data
    # CompleteMultipartUpload answers its XML result; PostObject its usual 204.
    uid = bkt.init_multipart_upload("mp").upload_id
    part = bkt.upload_part("mp", uid, 1, b"part")
    res = bkt.complete_multipart_upload("mp", uid, [PartInfo(1, part.etag)],
                                        headers={"x-oss-callback": b64(cb)})
    assert res.status == 200 and res.etag
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", "form"), ("callback", b64(cb))] + v1_post_fields(srv, pol))
    assert r.status_code == 204, r.text


def test_callback_var_keys_without_prefix_ignored_scalars_as_text(bkt, rcv):
    var = {"plain": "not a variable", "x:n": 42, "x:f": 1.5, "x:t": True, "x:s": "s"}
    res = bkt.put_object("vars", b"v", headers=cb_headers(
        spec(rcv.url(), "n=${x:n}&f=${x:f}&t=${x:t}&s=${x:s}&p=${plain}"), var))
    assert_ok_upload(res, b'{"Status":"OK"}', b"v")
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert call.body == b"n=42&f=1.5&t=true&s=s&p="


def test_additional_headers_are_sent(bkt, rcv):
    cb = spec(rcv.url(), "o=${object}", additionalHeaders={"X-Trace-Id": "t-1", "tenant": "acme co"})
    res = bkt.put_object("hdrs", b"h", headers=cb_headers(cb))
    assert_ok_upload(res, b'{"Status":"OK"}', b"h")
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert call.headers["x-trace-id"] == "t-1" and call.headers["tenant"] == "acme co"


@pytest.mark.parametrize("headers,ec", [
    ({"x-oss-test": "v"}, "0007-00000026"),
    ({"": "v"}, "0007-00000023"),
    ({"k": "a\r\nb"}, "0007-00000025"),
    (123, "0007-00000021"),
    ({"&*": "v"}, None),
    ({f"k{i}": "v" for i in range(11)}, None),
], ids=["x-oss-prefix", "empty-key", "crlf-value", "not-a-map", "bad-key-chars", "eleven"])
def test_bad_additional_headers_rejected(bkt, rcv, headers, ec):
    key = f"badhdr-{ec}-{len(str(headers))}"
    cb = spec(rcv.url(), "a=1", additionalHeaders=headers)
    expect_invalid(lambda: bkt.put_object(key, b"no", headers=cb_headers(cb)), ec)
    assert not stored(bkt, key)
    no_calls(rcv, 0)


def test_append_copy_and_upload_part_ignore_callback_parameters(bkt, rcv):
    """Only PutObject, PostObject and CompleteMultipartUpload call back (callback.md 1.1)."""
    h = cb_headers(spec(rcv.url(), "o=${object}"), {"x:v": "1"})
    res = bkt.append_object("app", 0, b"first", headers=h)
    assert res.status == 200 and res.next_position == 5
    res = bkt.append_object("app", 5, b"second", headers=h)
    assert res.next_position == 11
    bkt.put_object("src", b"source")
    res = bkt.copy_object(bkt.bucket_name, "src", "copy", headers=h)
    assert res.status == 200
    assert bkt.get_object("copy").read() == b"source"
    uid = bkt.init_multipart_upload("parts").upload_id
    part = bkt.upload_part("parts", uid, 1, b"p1", headers=h)
    assert part.status == 200 and part.etag == md5_etag(b"p1")
    # Even an invalid callback parameter is ignored there.
    bad = {"x-oss-callback": "!!not base64!!"}
    assert bkt.append_object("app", 11, b"!", headers=bad).next_position == 12
    assert bkt.upload_part("parts", uid, 2, b"p2", headers=bad).status == 200
    no_calls(rcv)


# ---------------------------------------------------------------------------
# Bucket callback policies (oss2 put/get/delete_bucket_callback_policy)

def policies(rcv):
    cb1 = b64(spec(rcv.url("/p1"), "etag=${etag}&v=${x:var1}"))
    cb2 = b64(spec(rcv.url("/p2?q=1"), '{"mimeType":${mimeType},"size":${size},"v":${x:var1}}',
                   "application/json", additionalHeaders={"x-from": "policy"}))
    var2 = b64({"x:var1": "value1"})
    return cb1, cb2, var2


def test_bucket_callback_policy_lifecycle_and_uploads(srv, bkt, rcv):
    cb1, cb2, var2 = policies(rcv)
    res = bkt.put_bucket_callback_policy([CallbackPolicyInfo("test_1", cb1),
                                          CallbackPolicyInfo("test_2", cb2, var2)])
    assert res.status == 200
    got = bkt.get_bucket_callback_policy()
    assert [(p.policy_name, p.callback, p.callback_var) for p in got.callback_policies] == [
        ("test_1", cb1, ""), ("test_2", cb2, var2)]

    # oss2, as its example sends it: {"callbackPolicy": name} in x-oss-callback.
    data = b"aaa"
    res = bkt.put_object("by-policy", data, headers={
        "x-oss-callback": b64({"callbackPolicy": "test_2"})})
    assert_ok_upload(res, b'{"Status":"OK"}', data)
    (call,) = rcv.wait_calls(1)
    assert call.verified, call.verify_error
    assert call.target == "/p2?q=1"
    assert call.json() == {"mimeType": "application/octet-stream", "size": 3, "v": "value1"}
    assert call.headers["x-from"] == "policy"
    assert call.headers["x-oss-callback-policy"] == "test_2"

    # The upload's own callback-var overrides the policy's.
    rcv.reset()
    res = bkt.put_object("by-policy-1", b"b", headers=cb_headers({"callbackPolicy": "test_1"},
                                                                  {"x:var1": "mine"}))
    assert res.status == 200
    (call,) = rcv.wait_calls(1)
    assert call.target == "/p1" and call.body == f"etag={md5_etag(b'b')}&v=mine".encode()

    # alibabacloud-oss-v2: PutObjectRequest.callback, and CompleteMultipartUpload.
    rcv.reset()
    client = v2_client(srv)
    r = client.put_object(oss.PutObjectRequest(bucket=bkt.bucket_name, key="v2-policy", body=b"v2",
                                               callback=b64({"callbackPolicy": "test_1"})))
    assert r.status_code == 200 and r.callback_result in ('{"Status":"OK"}', {"Status": "OK"})
    init = client.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bkt.bucket_name, key="v2-mp"))
    p1 = client.upload_part(oss.UploadPartRequest(bucket=bkt.bucket_name, key="v2-mp",
                                                  upload_id=init.upload_id, part_number=1, body=b"mp"))
    r = client.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bkt.bucket_name, key="v2-mp", upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(
            parts=[oss.UploadPart(part_number=1, etag=p1.etag)]),
        callback=b64({"callbackPolicy": "test_2"})))
    assert r.status_code == 200
    calls = rcv.wait_calls(2)
    assert [c.target for c in calls] == ["/p1", "/p2?q=1"]
    assert calls[1].json()["size"] == 2

    # PostObject: the form's callback field names the policy.
    rcv.reset()
    pol = encode_policy([{"bucket": bkt.bucket_name}])
    r = post(srv, bkt.bucket_name, [("key", "form-policy"), ("callback", b64({"callbackPolicy": "test_1"})),
                                    ("x:var1", "from-form")] + v1_post_fields(srv, pol))
    assert r.status_code == 200, r.text
    (call,) = rcv.wait_calls(1)
    assert call.body.endswith(b"&v=from-form")

    # A name the bucket does not have: 400, nothing stored.
    expect_invalid(lambda: bkt.put_object("no-policy", b"x", headers={
        "x-oss-callback": b64({"callbackPolicy": "nope"})}))
    assert not stored(bkt, "no-policy")

    res = bkt.delete_bucket_callback_policy()
    assert res.status == 204
    with pytest.raises(oss2.exceptions.OssError) as ei:
        bkt.get_bucket_callback_policy()
    assert (ei.value.status, ei.value.code) == (404, "BucketCallbackPolicyNotExist")
    # oss2's exception-process test: None and [None, None] send an empty document, 200.
    assert bkt.put_bucket_callback_policy(None).status == 200
    assert bkt.get_bucket_callback_policy().callback_policies == []


def test_bucket_callback_policy_refusals(bkt, rcv):
    with pytest.raises(oss2.exceptions.OssError) as ei:
        bkt.put_bucket_callback_policy([CallbackPolicyInfo("bad", b64({"callbackUrl": "h:test",
                                                                        "callbackBody": "a"}))])
    assert (ei.value.status, ei.value.code) == (400, "InvalidArgument")
    assert ei.value.details.get("EC") == "0007-00000004"
    with pytest.raises(oss2.exceptions.OssError) as ei:
        bkt.get_bucket_callback_policy()
    assert ei.value.code == "BucketCallbackPolicyNotExist"
    # Anonymous callers may not read or set it.
    anon = oss2.Bucket(oss2.AnonymousAuth(), bkt.endpoint, bkt.bucket_name)
    with pytest.raises(oss2.exceptions.OssError) as ei:
        anon.get_bucket_callback_policy()
    assert ei.value.status == 403


def test_callback_inspect_shows_additional_headers_and_policy(bkt):
    insp = Inspector()
    try:
        cb = b64(spec(insp.url("/insp"), "o=${object}", additionalHeaders={"x-tenant": "t9"}))
        bkt.put_bucket_callback_policy([CallbackPolicyInfo("inspected", cb)])
        res = bkt.put_object("insp", b"i", headers={"x-oss-callback": b64({"callbackPolicy": "inspected"})})
        assert res.status == 200
        out = insp.wait_for("--- signature: VALID ---")
        assert "--- additionalHeaders ---" in out and "x-tenant: t9" in out, out
        assert "--- bucket callback policy used: inspected ---" in out, out
    finally:
        insp.stop()


# ---------------------------------------------------------------------------
# `ossd callbacks show` explains common mistakes

def test_callbacks_show_explains_mistakes(srv, bkt):
    data_dir = str(srv.data_dir)
    with Receiver() as ok, \
            Receiver(body=b"<html><body>Please log in</body></html>", content_type="text/html") as html, \
            Receiver(status=302, body=b"", headers=[("Location", "https://example.test/cb")]) as moved:
        encoded = bkt.put_object("enc", b"e", headers=cb_headers(
            spec(ok.url(), "bucket=%24%7Bbucket%7D&object=%24%7Bobject%7D")))
        assert encoded.status == 200
        assert ok.wait_calls(1)[0].body == b"bucket=%24%7Bbucket%7D&object=%24%7Bobject%7D"
        broken = bkt.put_object("json", b"j", headers=cb_headers(
            spec(ok.url(), '{"object":${object},"size":${size}', "application/json")))
        mismatch = bkt.put_object("mismatch", b"m", headers=cb_headers(
            spec(ok.url(), '{"object":${object}}')))
        got_html = bkt.put_object("html", b"h", headers=cb_headers(spec(html.url(), "a=1")))
        assert got_html.status == 203
        redirected = bkt.put_object("moved", b"r", headers=cb_headers(spec(moved.url(), "a=1")))
        assert redirected.status == 203
    expected = [
        (encoded, "percent-encoded variable"),
        (broken, "not valid JSON after substitution"),
        (mismatch, "Content-Type mismatch"),
        (got_html, "with HTML"),
        (redirected, "redirect (302) to https://example.test/cb"),
    ]
    for res, text in expected:
        shown = run_cli("callbacks", "show", res.request_id, "--data", data_dir)
        assert "likely causes:" in shown and text in shown, (text, shown)
    clean = bkt.put_object("clean", b"c", headers=cb_headers(spec(closed_url(), "a=1")))
    assert "likely causes:" not in run_cli("callbacks", "show", clean.request_id, "--data", data_dir)


def closed_url():
    return f"http://127.0.0.1:{closed_port()}/cb"


# ---------------------------------------------------------------------------
# HTTPS receivers: --callback-ca-file and callbackSNI

def make_ca_and_leaf(tmp):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ossd test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = tmp / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem = tmp / "leaf.pem"
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem = tmp / "leaf.key"
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem, key_pem)
    return ca_pem, ctx


def test_https_receiver_with_private_root_and_sni(tmp_path, tmp_path_factory, srv):
    ca_pem, ctx = make_ca_and_leaf(tmp_path)
    with Receiver(ssl_context=ctx) as r:
        # Without --callback-ca-file the certificate is not trusted: 203, object kept.
        plain_bucket = oss2_bucket(srv, unique_bucket("tls"))
        plain_bucket.create_bucket()
        res = plain_bucket.put_object("untrusted", b"u", headers=cb_headers(spec(r.url(), "a=1")))
        assert res.status == 203
        assert plain_bucket.get_object("untrusted").read() == b"u"

        server = start(tmp_path_factory, "tls", "--callback-ca-file", str(ca_pem))
        try:
            b = oss2_bucket(server, unique_bucket("tls"))
            b.create_bucket()
            r.sni_names.clear()
            res = b.put_object("ip", b"1", headers=cb_headers(spec(r.url(), "o=${object}")))
            assert_ok_upload(res, b'{"Status":"OK"}', b"1")
            res = b.put_object("sni", b"2", headers=cb_headers(
                spec(r.url(host="localhost"), "o=${object}", callbackSNI=True)))
            assert_ok_upload(res, b'{"Status":"OK"}', b"2")
            res = b.put_object("nosni", b"3", headers=cb_headers(
                spec(r.url(host="localhost"), "o=${object}", callbackSNI=False)))
            assert_ok_upload(res, b'{"Status":"OK"}', b"3")
            calls = r.wait_calls(3)
            assert [c.body for c in calls] == [b"o=ip", b"o=sni", b"o=nosni"]
            assert all(c.verified for c in calls), [c.verify_error for c in calls]
            # An IP literal never carries SNI; callbackSNI decides for names.
            assert r.sni_names == [None, "localhost", None], r.sni_names
        finally:
            server.stop()


def test_callback_ca_file_must_hold_a_certificate(tmp_path):
    bad = tmp_path / "empty.pem"
    bad.write_text("not a certificate\n")
    server = OssdServer(tmp_path / "data", extra_args=["--callback-ca-file", str(bad)])
    with pytest.raises(Exception) as ei:
        server.start()
    assert "callback CA file" in str(ei.value)


# ---------------------------------------------------------------------------
# Receivers written from Alibaba's sample: gosspublic.alicdn.com compatibility mode

ALIYUN_KEY_URL = "http://gosspublic.alicdn.com/callback_pub_key_v1.pem"


def test_key_served_for_the_aliyun_host_only(srv):
    r = requests.get(f"{srv.endpoint}/callback_pub_key_v1.pem",
                     headers={"Host": "gosspublic.alicdn.com"}, timeout=10)
    assert r.status_code == 200 and r.text.startswith("-----BEGIN PUBLIC KEY-----")
    mine = requests.get(f"{srv.endpoint}/_ossd/callback_pub_key.pem", timeout=10)
    assert r.text == mine.text
    other = requests.get(f"{srv.endpoint}/callback_pub_key_v1.pem", timeout=10)
    assert other.status_code != 200 or not other.text.startswith("-----BEGIN PUBLIC KEY-----")


class SampleReceiver:
    """aliyun_sample_receiver.py, unmodified, in its own process; gosspublic.alicdn.com resolves
    to ossd's loopback address inside that process only (run_with_hosts.py)."""

    def __init__(self, ossd_port):
        port = closed_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "run_with_hosts.py"),
             f"gosspublic.alicdn.com=127.0.0.1:{ossd_port}", "--",
             str(HERE / "aliyun_sample_receiver.py"), str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.url = f"http://127.0.0.1:{port}/callback"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.ConnectionError:
                assert self.proc.poll() is None, self.proc.stdout.read()
                time.sleep(0.1)
        raise AssertionError("the sample receiver did not start")

    def stop(self):
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out


def test_unmodified_aliyun_sample_receiver(tmp_path_factory):
    server = start(tmp_path_factory, "aliyun", "--callback-public-key-url", ALIYUN_KEY_URL)
    sample = SampleReceiver(server.port)
    try:
        b = oss2_bucket(server, unique_bucket("ali"))
        b.create_bucket()
        res = b.put_object("sample.txt", b"hello", headers=cb_headers(
            spec(sample.url + "?id=1&index=2", "bucket=${bucket}&object=${object}&my_var=${x:my_var}"),
            {"x:my_var": "for-callback-test"}))
        assert_ok_upload(res, b'{"Status": "OK"}', b"hello")
    finally:
        out = sample.stop()
        server.stop()
    assert "signature verified" in out, out

    # The default key URL is ossd's own, which the sample refuses: 203 (its 400).
    other = start(tmp_path_factory, "aliyun-default")
    sample = SampleReceiver(other.port)
    try:
        b = oss2_bucket(other, unique_bucket("ali"))
        b.create_bucket()
        res = b.put_object("refused.txt", b"x", headers=cb_headers(spec(sample.url, "a=1")))
        assert res.status == 203
    finally:
        sample.stop()
        other.stop()


# ---------------------------------------------------------------------------
# --callback-mode oss

def test_callback_mode_oss_refuses_private_destinations(tmp_path_factory, rcv):
    server = start(tmp_path_factory, "ossmode", "--callback-mode", "oss")
    try:
        b = oss2_bucket(server, unique_bucket("om"))
        b.create_bucket()
        for key, url in [("loop", rcv.url()), ("name", rcv.url(host="localhost")),
                         ("lan", "http://192.168.10.20:8080/cb"), ("v6", "http://[::1]:8080/cb")]:
            with pytest.raises(oss2.exceptions.OssError) as ei:
                b.put_object(key, b"x", headers=cb_headers(spec(url, "a=1")))
            e = ei.value
            assert (e.status, e.code) == (400, "InvalidArgument"), (key, e.details)
            if key == "v6":
                assert e.details.get("EC") == "0007-00000004"
            else:
                assert e.message == "Private address is forbidden to callback.", e.details
                assert e.details.get("EC") == "0007-00000008"
                assert e.details.get("ArgumentName") == "callbackUrl"
            assert not stored(b, key)
        # PostObject and uploads without a callback are unaffected.
        pol = encode_policy([{"bucket": b.bucket_name}])
        r = post(server, b.bucket_name, [("key", "form"), ("callback", b64(spec(rcv.url(), "a=1")))]
                 + v1_post_fields(server, pol))
        assert r.status_code == 400 and b"0007-00000008" in r.content
        assert b.put_object("plain", b"p").status == 200
        no_calls(rcv)
    finally:
        server.stop()
    # The default mode calls the same loopback receiver.
    default = start(tmp_path_factory, "defaultmode")
    try:
        b = oss2_bucket(default, unique_bucket("dm"))
        b.create_bucket()
        res = b.put_object("loop", b"x", headers=cb_headers(spec(rcv.url(), "a=1")))
        assert res.status == 200
    finally:
        default.stop()
