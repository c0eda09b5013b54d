// Bucket configurations through ali-oss: tags, website, referer, lifecycle, policy, request
// payment, versioning status, ListObjectVersions, error precedence; and the settings that take
// effect for anonymous callers (fetch without credentials).
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';

import { VARIANTS, expectOssError, makeClient, uniqueBucket, useServer } from './helpers.mjs';

let server;
useServer((s) => {
  server = s;
});

async function freshBucket(variant, opts = {}) {
  const name = uniqueBucket('cfg');
  const client = makeClient(server, variant);
  await client.putBucket(name, opts);
  client.useBucket(name);
  return { name, client };
}

// node:http rather than fetch: fetch drops `Referer` (a forbidden header name).
function anon(name, key = '', headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.ipEndpoint}/${name}/${key}`, { headers }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, text: async () => body });
      });
    });
    req.on('error', reject);
  });
}

for (const variant of VARIANTS) {
  describe(`ali-oss ${variant.name}`, () => {
    test('bucket tags', async () => {
      const { name, client } = await freshBucket(variant);
      assert.deepEqual((await client.getBucketTags(name)).tag, {});
      await client.putBucketTags(name, { env: 'prod', team: 'storage' });
      assert.deepEqual((await client.getBucketTags(name)).tag, { env: 'prod', team: 'storage' });
      await client.deleteBucketTags(name);
      assert.deepEqual((await client.getBucketTags(name)).tag, {});
      // (ali-oss itself refuses more than 20 tags before sending.)
    });

    test('website, referer, lifecycle, policy, request payment, versioning round trips', async () => {
      const { name, client } = await freshBucket(variant);
      await expectOssError(client.getBucketWebsite(name), { status: 404, code: 'NoSuchWebsiteConfiguration' });
      await client.putBucketWebsite(name, { index: 'index.html', error: 'err.html', supportSubDir: true });
      const w = await client.getBucketWebsite(name);
      assert.equal(w.index, 'index.html');
      assert.equal(w.error, 'err.html');
      assert.equal(w.supportSubDir, 'true');
      await client.deleteBucketWebsite(name);
      await expectOssError(client.getBucketWebsite(name), { status: 404, code: 'NoSuchWebsiteConfiguration' });

      await client.putBucketReferer(name, false, ['https://*.example.com']);
      const r = await client.getBucketReferer(name);
      assert.equal(r.allowEmpty, false);
      assert.deepEqual(r.referers, ['https://*.example.com']);
      await client.deleteBucketReferer(name);
      assert.equal((await client.getBucketReferer(name)).allowEmpty, true);

      await expectOssError(client.getBucketLifecycle(name), { status: 404, code: 'NoSuchLifecycle' });
      await client.putBucketLifecycle(name, [{ id: 'r1', prefix: 'logs/', status: 'Enabled', days: 7 }]);
      const lc = await client.getBucketLifecycle(name);
      assert.equal(lc.rules.length, 1);
      assert.equal(lc.rules[0].id, 'r1');
      assert.equal(lc.rules[0].expiration.days, '7');
      await client.deleteBucketLifecycle(name);
      await expectOssError(client.getBucketLifecycle(name), { status: 404, code: 'NoSuchLifecycle' });

      // ali-oss reads GetBucketPolicy's 404 NoSuchBucketPolicy as "no policy".
      const none = await client.getBucketPolicy(name);
      assert.equal(none.policy, null);
      assert.equal(none.res.status, 404);
      const policy = {
        Version: '1',
        Statement: [{ Effect: 'Allow', Principal: ['*'], Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${name}/*`] }],
      };
      await client.putBucketPolicy(name, policy);
      assert.deepEqual((await client.getBucketPolicy(name)).policy, policy);
      await client.deleteBucketPolicy(name);

      assert.equal((await client.getBucketRequestPayment(name)).payer, 'BucketOwner');
      await client.putBucketRequestPayment(name, 'Requester');
      assert.equal((await client.getBucketRequestPayment(name)).payer, 'Requester');

      const v = await client.getBucketVersioning(name);
      assert.equal(v.versionStatus, undefined);
      // ali-oss resolves non-2xx answers of this call; the status tells.
      const enable = await client.putBucketVersioning(name, 'Enabled');
      assert.equal(enable.res.status, 501);
      assert.equal((await client.getBucketVersioning(name)).versionStatus, undefined);
    });

    test('listObjectVersions lists null versions', async () => {
      const { client } = await freshBucket(variant);
      for (const k of ['a', 'b', 'c']) await client.put(k, Buffer.from(k));
      const page = await client.getBucketVersions({ 'max-keys': 2 });
      assert.deepEqual(page.objects.map(o => [o.name, o.versionId, o.isLatest]), [['a', 'null', true], ['b', 'null', true]]);
      assert.equal(page.nextMarker, 'b');
      assert.equal(page.NextVersionIdMarker, 'null');
      const rest = await client.getBucketVersions({ keyMarker: 'b', versionIdMarker: 'null' });
      assert.deepEqual(rest.objects.map(o => o.name), ['c']);
    });
  });
}

test('a missing bucket is 404 before credentials are judged', async () => {
  const bad = makeClient(server, VARIANTS[0], { ak: 'NoSuchAccessKeyId12345', sk: 'wrong' });
  await expectOssError(bad.getBucketInfo(uniqueBucket('gone')), { status: 404, code: 'NoSuchBucket' });
  const { name } = await freshBucket(VARIANTS[0]);
  await expectOssError(bad.getBucketInfo(name), { status: 403, code: 'InvalidAccessKeyId' });
});

test('policy, referer and website take effect for anonymous callers', async () => {
  const { name, client } = await freshBucket(VARIANTS[1]);
  await client.put('index.html', Buffer.from('home'));
  await client.put('err.html', Buffer.from('oops'));
  await client.put('img/a.png', Buffer.from('png'));
  assert.equal((await anon(name, 'img/a.png')).status, 403);
  await client.putBucketPolicy(name, {
    Version: '1',
    Statement: [{ Effect: 'Allow', Principal: ['*'], Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${name}/*`] }],
  });
  assert.equal((await anon(name, 'img/a.png')).status, 200);
  await client.putBucketReferer(name, false, ['http://*.mysite.com']);
  assert.equal((await anon(name, 'img/a.png')).status, 403);
  assert.equal((await anon(name, 'img/a.png', { Referer: 'http://www.mysite.com' })).status, 200);
  await client.putBucketReferer(name, true, []);
  await client.putBucketWebsite(name, { index: 'index.html', error: 'err.html' });
  const home = await anon(name);
  assert.equal(home.status, 200);
  assert.equal(await home.text(), 'home');
  const missing = await anon(name, 'nope.html');
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), 'oops');
});
