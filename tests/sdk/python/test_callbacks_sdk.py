"""Upload callbacks as oss2 and alibabacloud-oss-v2 drive them (callback.md section 6),
against a receiver running in this process on 127.0.0.1."""

import json
import os
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import requests

import alibabacloud_oss_v2 as oss
import oss2

from conftest import oss2_bucket, v2_client
from ossd_helpers import (
    CallbackReceiver, b64json, crc64, md5_etag, unique_bucket, verify_callback_signature,
)


@pytest.fixture
def receiver():
    r = CallbackReceiver()
    yield r
    r.close()


def form_body_template():
    return ("bucket=${bucket}&object=${object}&etag=${etag}&size=${size}"
            "&mimeType=${mimeType}&my_var=${x:my_var}")


def expected_form_body(bucket_name, key, data, mime, my_var):
    enc = lambda s: quote(s, safe="")  # noqa: E731
    return (f"bucket={enc(bucket_name)}&object={enc(key)}&etag={md5_etag(data)}&size={len(data)}"
            f"&mimeType={enc(mime)}&my_var={enc(my_var)}").encode()


def test_oss2_put_with_callback_success(ossd, auth_version, receiver):
    b = oss2_bucket(ossd, unique_bucket("cb"), auth_version)
    b.create_bucket()
    key = "cb/object.txt"
    data = os.urandom(100)
    receiver.body = b'{"Status":"OK","from":"receiver"}'
    headers = {
        "x-oss-callback": b64json({"callbackUrl": receiver.url("/cb/path?id=1&index=2"),
                                   "callbackBody": form_body_template()}),
        "x-oss-callback-var": b64json({"x:my_var": "value-1_2.3"}),
    }
    r = b.put_object(key, data, headers=headers)  # oss2 also compares the CRC header
    assert r.status == 200
    assert r.resp.read() == b'{"Status":"OK","from":"receiver"}'
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.etag == md5_etag(data)
    assert r.crc == crc64(data)

    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    assert call["method"] == "POST"
    assert call["path"] == "/cb/path?id=1&index=2"
    hdrs = {k.lower(): v for k, v in call["headers"].items()}
    assert hdrs["content-type"] == "application/x-www-form-urlencoded"
    assert call["body"] == expected_form_body(b.bucket_name, key, data, "text/plain", "value-1_2.3")
    verify_callback_signature(call)
    assert b.get_object(key).read() == data


def test_oss2_callback_failure_is_203_and_object_kept(ossd, receiver):
    b = oss2_bucket(ossd, unique_bucket("cb"))
    b.create_bucket()
    receiver.status = 500
    receiver.body = b'{"error":"nope"}'
    data = b"stored anyway"
    headers = {"x-oss-callback": b64json({"callbackUrl": receiver.url(),
                                          "callbackBody": "object=${object}"})}
    r = b.put_object("failing", data, headers=headers)
    assert r.status == 203
    root = ET.fromstring(r.resp.read())
    assert root.findtext("Code") == "CallbackFailed"
    assert r.etag == md5_etag(data)
    assert r.crc == crc64(data)
    assert len(receiver.calls) == 1
    assert b.get_object("failing").read() == data


def test_oss2_callback_unreachable_and_non_json(ossd, receiver):
    b = oss2_bucket(ossd, unique_bucket("cb"))
    b.create_bucket()
    closed = CallbackReceiver()
    dead_url = closed.url()
    closed.close()
    r = b.put_object("dead", b"x", headers={"x-oss-callback": b64json(
        {"callbackUrl": dead_url, "callbackBody": "a=b"})})
    assert r.status == 203
    assert ET.fromstring(r.resp.read()).findtext("Code") == "CallbackFailed"

    receiver.body = b"OK"  # not JSON
    receiver.content_type = "text/plain"
    r = b.put_object("plain", b"y", headers={"x-oss-callback": b64json(
        {"callbackUrl": receiver.url(), "callbackBody": "a=b"})})
    assert r.status == 203
    assert b.get_object("plain").read() == b"y"

    # the second URL is used when the first fails
    receiver.body = b'{"second":true}'
    receiver.content_type = "application/json"
    r = b.put_object("failover", b"z", headers={"x-oss-callback": b64json(
        {"callbackUrl": f"{dead_url};{receiver.url('/second')}", "callbackBody": "a=b"})})
    assert r.status == 200
    assert r.resp.read() == b'{"second":true}'
    assert receiver.calls[-1]["path"] == "/second"


def test_oss2_callback_json_body(ossd, receiver):
    b = oss2_bucket(ossd, unique_bucket("cb"))
    b.create_bucket()
    data = b"json callback"
    cb = {"callbackUrl": receiver.url(),
          "callbackBody": '{"bucket":${bucket},"object":${object},"size":${size},"v":${x:v}}',
          "callbackBodyType": "application/json"}
    r = b.put_object("dir/j.bin", data, headers={"x-oss-callback": b64json(cb),
                                                  "x-oss-callback-var": b64json({"x:v": 'quote " slash \\'})})
    assert r.status == 200
    call = receiver.calls[-1]
    assert {k.lower(): v for k, v in call["headers"].items()}["content-type"] == "application/json"
    assert json.loads(call["body"]) == {"bucket": b.bucket_name, "object": "dir/j.bin",
                                        "size": len(data), "v": 'quote " slash \\'}
    verify_callback_signature(call)


def test_oss2_invalid_callback_rejected_before_storing(ossd):
    b = oss2_bucket(ossd, unique_bucket("cb"))
    b.create_bucket()
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.put_object("bad", b"x", headers={"x-oss-callback": "!!!not base64!!!"})
    assert (ei.value.status, ei.value.code) == (400, "InvalidArgument")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.put_object("bad", b"x", headers={"x-oss-callback": b64json({"callbackUrl": "http://127.0.0.1:1/"})})
    assert (ei.value.status, ei.value.code) == (400, "InvalidArgument")  # no callbackBody
    assert not b.object_exists("bad")


def test_oss2_presigned_put_with_callback(ossd, auth_version, receiver):
    b = oss2_bucket(ossd, unique_bucket("cb"), auth_version)
    b.create_bucket()
    params = {"callback": b64json({"callbackUrl": receiver.url("/presigned"),
                                   "callbackBody": "object=${object}&v=${x:v}"}),
              "callback-var": b64json({"x:v": "pv"})}
    url = b.sign_url("PUT", "ps-cb", 300, params=params)
    r = requests.put(url, data=b"presigned")
    assert r.status_code == 200, r.text
    assert r.content == b'{"Status":"OK"}'
    assert receiver.calls[-1]["body"] == b"object=ps-cb&v=pv"
    assert b.get_object("ps-cb").read() == b"presigned"


@pytest.mark.parametrize("sigver,style", [("v4", "ip"), ("v1", "localhost")])
def test_v2_put_with_callback(ossd, receiver, sigver, style):
    client = v2_client(ossd, sigver, style)
    name = unique_bucket("cb")
    client.put_bucket(oss.PutBucketRequest(bucket=name))
    data = b"v2 callback"
    r = client.put_object(oss.PutObjectRequest(
        bucket=name, key="v2.txt", body=data,
        callback=b64json({"callbackUrl": receiver.url(), "callbackBody": form_body_template()}),
        callback_var=b64json({"x:my_var": "v2"})))
    assert r.status_code == 200
    assert r.callback_result == '{"Status":"OK"}'
    assert r.hash_crc64 == str(crc64(data))
    assert receiver.calls[-1]["body"] == expected_form_body(name, "v2.txt", data, "text/plain", "v2")

    receiver.status = 404
    r = client.put_object(oss.PutObjectRequest(
        bucket=name, key="v2-fail.txt", body=data,
        callback=b64json({"callbackUrl": receiver.url(), "callbackBody": "a=b"})))
    assert r.status_code == 203
    assert "<Code>CallbackFailed</Code>" in r.callback_result
    assert client.get_object(oss.GetObjectRequest(bucket=name, key="v2-fail.txt")).body.content == data
