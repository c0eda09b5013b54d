// Symlinks, storage classes with restore, and bucket encryption through ali-oss against a real
// ossd (restore delay: the server's default 1 s).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { VARIANTS, expectOssError, makeClient, uniqueBucket, useServer } from './helpers.mjs';

let server;
useServer((s) => {
  server = s;
});

async function freshBucket(variant) {
  const name = uniqueBucket('ncls');
  const client = makeClient(server, variant);
  await client.putBucket(name);
  client.useBucket(name);
  return client;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const variant of [VARIANTS[0], VARIANTS[3]]) {
  describe(`ali-oss object classes ${variant.name}`, () => {
    test('putSymlink / getSymlink with a Unicode target; reads follow the link', async () => {
      const client = await freshBucket(variant);
      await client.put('目录/目标 1.txt', Buffer.from('node target'));
      await client.putSymlink('link', '目录/目标 1.txt', { meta: { who: 'node' }, storageClass: 'IA' });
      const r = await client.getSymlink('link');
      assert.equal(r.targetName, '目录/目标 1.txt');
      assert.equal(r.res.headers['x-oss-meta-who'], 'node');
      const head = await client.head('link');
      assert.equal(head.res.headers['x-oss-object-type'], 'Symlink');
      assert.equal((await client.get('link')).content.toString(), 'node target');
      const list = await client.list();
      const link = list.objects.find((o) => o.name === 'link');
      assert.equal(link.type, 'Symlink');
      assert.equal(link.storageClass, 'IA');
      await client.putSymlink('dangling', 'nowhere');
      await expectOssError(client.get('dangling'), { status: 404, code: 'NoSuchKey' });
    });

    test('Archive object: 403 before restore, 202, 409, then readable', async () => {
      const client = await freshBucket(variant);
      await client.put('cold', Buffer.from('archived'), { headers: { 'x-oss-storage-class': 'Archive' } });
      await expectOssError(client.get('cold'), { status: 403, code: 'InvalidObjectState' });
      const r = await client.restore('cold');
      assert.equal(r.res.status, 202);
      await expectOssError(client.restore('cold'), { status: 409, code: 'RestoreAlreadyInProgress' });
      const listed = (await client.list()).objects.find((o) => o.name === 'cold');
      assert.equal(listed.restoreInfo.ongoingRequest, true);
      await sleep(1500);
      const head = await client.head('cold');
      assert.match(head.res.headers['x-oss-restore'], /^ongoing-request="false", expiry-date=".+ GMT"$/);
      assert.equal((await client.get('cold')).content.toString(), 'archived');
    });

    test('putBucketEncryption / getBucketEncryption / deleteBucketEncryption', async () => {
      const client = await freshBucket(variant);
      const name = client.options.bucket;
      await expectOssError(client.getBucketEncryption(name), { status: 404, code: 'NoSuchServerSideEncryptionRule' });
      await client.putBucketEncryption(name, { SSEAlgorithm: 'AES256' });
      const got = await client.getBucketEncryption(name);
      assert.equal(got.encryption.SSEAlgorithm, 'AES256');
      const put = await client.put('o', Buffer.from('x'));
      assert.equal(put.res.headers['x-oss-server-side-encryption'], 'AES256');
      await client.deleteBucketEncryption(name);
      await expectOssError(client.getBucketEncryption(name), { status: 404, code: 'NoSuchServerSideEncryptionRule' });
    });
  });
}
