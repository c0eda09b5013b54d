// Upload callbacks as ali-oss drives them (callback.md 6.1), with a receiver in this process.
import assert from 'node:assert/strict';
import { createVerify } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { OssdServer, VARIANTS, crc64, expectOssError, makeClient, md5Etag, uniqueBucket } from './helpers.mjs';

let server;
let receiver;
const calls = [];
const reply = { status: 200, body: '{"Status":"OK"}', type: 'application/json' };

before(async () => {
  server = new OssdServer();
  await server.start();
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      calls.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      const body = Buffer.from(reply.body);
      res.writeHead(reply.status, { 'Content-Type': reply.type, 'Content-Length': body.length, Connection: 'close' });
      res.end(body);
    });
  });
  await new Promise(r => receiver.listen(0, '127.0.0.1', r));
});

after(async () => {
  if (receiver) await new Promise(r => receiver.close(r));
  if (server) {
    await server.stop();
    server.cleanup();
  }
});

const receiverUrl = path => `http://127.0.0.1:${receiver.address().port}${path}`;

async function verifySignature(call) {
  const keyUrl = Buffer.from(call.headers['x-oss-pub-key-url'], 'base64').toString();
  const pem = await (await fetch(keyUrl)).text();
  const q = call.url.indexOf('?');
  const path = q < 0 ? call.url : call.url.slice(0, q);
  const query = q < 0 ? '' : call.url.slice(q);
  const sts = Buffer.concat([Buffer.from(decodeURIComponent(path) + query + '\n'), call.body]);
  const v = createVerify('RSA-MD5');
  v.update(sts);
  assert.ok(v.verify(pem, call.headers.authorization, 'base64'), 'callback signature does not verify');
}

for (const variant of [VARIANTS[0], VARIANTS[3]]) {
  describe(`ali-oss callbacks ${variant.name}`, () => {
    test('put with callback: 200 and the receiver JSON as result.data', async () => {
      const client = makeClient(server, variant);
      const bucket = uniqueBucket('cbn');
      await client.putBucket(bucket);
      client.useBucket(bucket);
      reply.status = 200;
      reply.body = '{"Status":"OK","n":1}';
      const data = Buffer.from('callback from ali-oss');
      const r = await client.put('cb/a.txt', data, {
        callback: {
          url: receiverUrl('/hook?x=1'),
          body: 'bucket=${bucket}&object=${object}&size=${size}&v=${x:var1}',
          contentType: 'application/x-www-form-urlencoded',
          customValue: { var1: 'value1' },
        },
      });
      assert.equal(r.res.status, 200);
      assert.deepEqual(r.data, { Status: 'OK', n: 1 });
      assert.equal(r.res.headers.etag, md5Etag(data));
      assert.equal(r.res.headers['x-oss-hash-crc64ecma'], crc64(data));
      const call = calls[calls.length - 1];
      assert.equal(call.method, 'POST');
      assert.equal(call.url, '/hook?x=1');
      assert.equal(call.body.toString(), `bucket=${bucket}&object=cb%2Fa.txt&size=${data.length}&v=value1`);
      await verifySignature(call);
    });

    test('callback failure: CallbackFailedError with status 203, object stored', async () => {
      const client = makeClient(server, variant);
      const bucket = uniqueBucket('cbn');
      await client.putBucket(bucket);
      client.useBucket(bucket);
      reply.status = 401;
      reply.body = '{"no":"auth"}';
      const err = await expectOssError(
        client.put('cb/fail.txt', Buffer.from('kept'), { callback: { url: receiverUrl('/'), body: 'a=b' } }),
        { status: 203, code: 'CallbackFailed', name: 'CallbackFailedError' },
      );
      assert.ok(err.requestId);
      assert.equal((await client.get('cb/fail.txt')).content.toString(), 'kept');
      reply.status = 200;
      reply.body = '{"Status":"OK"}';
    });
  });
}
