// Upload callbacks through ali-oss (shared/spec/callback.md section 6.1) against a real ossd.
// Every callback is verified by receiver.mjs on its own (RSA-MD5, key fetched from the URL the
// server advertises); variables are compared with values computed here.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

import { VARIANTS, b64md5, crc64, makeClient, md5Etag, uniqueBucket, useServer } from './helpers.mjs';
import { Receiver, closedPort } from './receiver.mjs';

let server;
useServer((s) => {
  server = s;
});

const AWKWARD = 'a b&c=d"e\'f\\g ü 文件 +/%20 ;#?';
const FORM_BODY =
  'bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}' +
  '&crc64=${crc64}&contentMd5=${contentMd5}&operation=${operation}&v=${x:v}&n=${x:n}';
const JSON_BODY =
  '{"bucket":${bucket},"object":${object},"etag":${etag},"size":${size},"mimeType":${mimeType},' +
  '"crc64":${crc64},"contentMd5":${contentMd5},"operation":${operation},"v":${x:v},"n":${x:n}}';

async function freshBucket(variant) {
  const name = uniqueBucket('ncb');
  const client = makeClient(server, variant);
  await client.putBucket(name);
  client.useBucket(name);
  return { name, client };
}

async function withReceiver(opts, fn) {
  const r = await new Receiver(opts).start();
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

function assertVerified(call) {
  assert.equal(call.method, 'POST');
  assert.ok(call.verified, call.verifyError);
  assert.match(call.keyUrl, /\/_ossd\/callback_pub_key\.pem$/);
}

for (const variant of VARIANTS) {
  describe(`ali-oss callbacks ${variant.name}`, () => {
    test('put with a form callback: result.data is the receiver JSON', async () => {
      const { name, client } = await freshBucket(variant);
      const answer = { Status: 'OK', echo: 'ü "q"', list: [1, 2] };
      await withReceiver({ body: JSON.stringify(answer) }, async r => {
        const key = 'dir/ü k&=.txt';
        const data = randomBytes(3000);
        const result = await client.put(key, data, {
          mime: 'text/plain',
          callback: { url: r.url('/form'), body: FORM_BODY, customValue: { v: AWKWARD, n: 42 } },
        });
        assert.equal(result.res.status, 200);
        assert.deepEqual(result.data, answer);
        assert.equal(result.res.headers.etag, md5Etag(data));
        assert.equal(result.res.headers['x-oss-hash-crc64ecma'], crc64(data));
        assert.match(result.res.headers['content-type'], /^application\/json/);
        const [call] = await r.waitCalls(1);
        assertVerified(call);
        assert.equal(call.target, '/form');
        assert.equal(call.headers['content-type'], 'application/x-www-form-urlencoded');
        assert.deepEqual(call.form(), {
          bucket: name,
          object: key,
          etag: md5Etag(data).replaceAll('"', ''),
          size: String(data.length),
          mimeType: 'text/plain',
          crc64: crc64(data),
          contentMd5: b64md5(data),
          operation: 'PutObject',
          v: AWKWARD,
          n: '42',
        });
        const got = await client.get(key);
        assert.deepEqual(got.content, data);
      });
    });

    test('put with a JSON callback', async () => {
      const { name, client } = await freshBucket(variant);
      await withReceiver({ body: '{"json":true}' }, async r => {
        const data = Buffer.from('json callback body');
        const result = await client.put('j.bin', data, {
          mime: 'application/octet-stream',
          callback: {
            url: r.url('/json?x=1&y=a/b'), // ali-oss encodeURI()s the URL
            body: JSON_BODY,
            contentType: 'application/json',
            customValue: { v: AWKWARD + '\n', n: 'seven' },
          },
        });
        assert.equal(result.res.status, 200);
        assert.deepEqual(result.data, { json: true });
        const [call] = await r.waitCalls(1);
        assertVerified(call);
        assert.equal(call.target, '/json?x=1&y=a/b');
        assert.equal(call.headers['content-type'], 'application/json');
        assert.deepEqual(call.json(), {
          bucket: name,
          object: 'j.bin',
          etag: md5Etag(data).replaceAll('"', ''),
          size: data.length,
          mimeType: 'application/octet-stream',
          crc64: crc64(data),
          contentMd5: b64md5(data),
          operation: 'PutObject',
          v: AWKWARD + '\n',
          n: 'seven',
        });
      });
    });

    test('receiver down: CallbackFailedError 203, object stored', async () => {
      const { client } = await freshBucket(variant);
      const port = await closedPort();
      const data = randomBytes(500);
      let err = null;
      try {
        await client.put('down.bin', data, {
          callback: { url: `http://127.0.0.1:${port}/cb`, body: 'size=${size}' },
        });
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'put should reject when the callback fails');
      assert.equal(err.name, 'CallbackFailedError');
      assert.equal(err.status, 203);
      assert.equal(err.code, 'CallbackFailed');
      assert.equal(err.ecCode, '0007-00000203');
      assert.ok(err.requestId);
      assert.match(err.message, /OSS can not connect to your callbackUrl/);
      const got = await client.get('down.bin');
      assert.deepEqual(got.content, data);
    });

    test('receiver answers 500: CallbackFailedError with the status', async () => {
      const { client } = await freshBucket(variant);
      await withReceiver({ status: 500, body: '{"no":1}' }, async r => {
        let err = null;
        try {
          await client.put('s500', Buffer.from('x'), { callback: { url: r.url(), body: 'a=1' } });
        } catch (e) {
          err = e;
        }
        assert.ok(err);
        assert.equal(err.name, 'CallbackFailedError');
        assert.equal(err.status, 203);
        assert.match(err.message, /Error status : 500\./);
        assert.equal(r.calls.length, 1);
        assertVerified(r.calls[0]);
        assert.deepEqual((await client.get('s500')).content, Buffer.from('x'));
      });
    });
  });
}

describe('ali-oss presigned PUT with callback', () => {
  test('signatureUrl (V1, localhost + sldEnable) with callback, uploaded with fetch', async () => {
    const variant = { name: 'localhost-sld-v1', style: 'localhost', v4: false };
    const { name, client } = await freshBucket(variant);
    await withReceiver({ body: '{"presigned":"v1"}' }, async r => {
      const key = 'pre/signed ü.bin';
      const data = randomBytes(4096);
      const url = client.signatureUrl(key, {
        method: 'PUT',
        expires: 300,
        callback: { url: r.url('/pre'), body: FORM_BODY, customValue: { v: AWKWARD, n: 'x' } },
      });
      assert.match(url, /[?&]callback=/);
      assert.match(url, /[?&]callback-var=/);
      const resp = await fetch(url, { method: 'PUT', body: data });
      const text = await resp.text();
      assert.equal(resp.status, 200, text);
      assert.equal(text, '{"presigned":"v1"}');
      assert.match(resp.headers.get('content-type'), /^application\/json/);
      const [call] = await r.waitCalls(1);
      assertVerified(call);
      const form = call.form();
      assert.equal(form.bucket, name);
      assert.equal(form.object, key);
      assert.equal(form.size, String(data.length));
      assert.equal(form.v, AWKWARD);
      assert.deepEqual((await client.get(key)).content, data);
    });
  });

  test('signatureUrl sends customValue unconverted: numbers and booleans render as text', async () => {
    const variant = { name: 'localhost-sld-v1', style: 'localhost', v4: false };
    const { client } = await freshBucket(variant);
    await withReceiver({}, async r => {
      const url = client.signatureUrl('scalars', {
        method: 'PUT',
        expires: 300,
        callback: { url: r.url('/scalars'), body: 'n=${x:n}&b=${x:b}&f=${x:f}', customValue: { n: 42, b: true, f: 1.5 } },
      });
      const cbVar = JSON.parse(Buffer.from(new URL(url).searchParams.get('callback-var'), 'base64').toString());
      assert.deepEqual(cbVar, { 'x:n': 42, 'x:b': true, 'x:f': 1.5 }, 'ali-oss sends the values as JSON scalars');
      const resp = await fetch(url, { method: 'PUT', body: Buffer.from('s') });
      assert.equal(resp.status, 200, await resp.text());
      const [call] = await r.waitCalls(1);
      assertVerified(call);
      assert.deepEqual(call.form(), { n: '42', b: 'true', f: '1.5' });
    });
  });

  test('signatureUrlV4 with callback query parameters, uploaded with fetch', async () => {
    const variant = { name: 'localhost-sld-v4', style: 'localhost', v4: true };
    const { client } = await freshBucket(variant);
    await withReceiver({ body: '{"presigned":"v4"}' }, async r => {
      const cb = Buffer.from(JSON.stringify({ callbackUrl: r.url('/v4'), callbackBody: 'o=${object}&v=${x:v}' }))
        .toString('base64');
      const cbVar = Buffer.from(JSON.stringify({ 'x:v': AWKWARD })).toString('base64');
      const url = await client.signatureUrlV4('PUT', 300, { queries: { callback: cb, 'callback-var': cbVar } }, 'v4 obj');
      const resp = await fetch(url, { method: 'PUT', body: Buffer.from('v4 data') });
      const text = await resp.text();
      assert.equal(resp.status, 200, text);
      assert.equal(text, '{"presigned":"v4"}');
      const [call] = await r.waitCalls(1);
      assertVerified(call);
      assert.deepEqual(call.form(), { o: 'v4 obj', v: AWKWARD });
      assert.deepEqual((await client.get('v4 obj')).content, Buffer.from('v4 data'));
    });
  });
});
