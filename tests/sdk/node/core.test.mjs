// ali-oss 6.x against a real ossd, in four addressing/signature variants.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

import {
  VARIANTS, b64md5, crc64, expectOssError, makeClient, md5Etag, uniqueBucket, useServer,
} from './helpers.mjs';

let server;
useServer((s) => {
  server = s;
});

test('own tools: crc64 check value', () => {
  assert.equal(crc64(Buffer.from('123456789')), '11051210869376104954');
});

async function freshBucket(variant, opts = {}) {
  const name = uniqueBucket(variant.name.replace(/[^a-z0-9]/g, '').slice(0, 8));
  const client = makeClient(server, variant);
  await client.putBucket(name, opts);
  client.useBucket(name);
  return { name, client };
}

const SPECIAL_KEYS = ['with space.txt', 'plus+sign', 'pct%41', 'ünï/文件.bin', 'a/b c+d%e', "quote'\"", 'amp&<>'];

for (const variant of VARIANTS) {
  describe(`ali-oss ${variant.name}`, () => {
    test('putBucket / getBucketInfo / getBucketLocation / listBuckets / bucket ACL / deleteBucket', async () => {
      const client = makeClient(server, variant);
      const prefix = `lb-${randomBytes(5).toString('hex')}-`;
      const names = ['a', 'b', 'c'].map(s => prefix + s);
      for (const n of names) {
        const r = await client.putBucket(n, { acl: 'public-read' });
        assert.equal(r.res.status, 200);
      }
      await expectOssError(client.putBucket(names[0]), { status: 409, code: 'BucketAlreadyExists' });

      const info = await client.getBucketInfo(names[0]);
      assert.equal(info.bucket.Name, names[0]);
      assert.equal(info.bucket.Location, 'oss-cn-hangzhou');
      assert.equal(info.bucket.AccessControlList.Grant, 'public-read');
      assert.equal(info.bucket.StorageClass, 'Standard');
      const loc = await client.getBucketLocation(names[0]);
      assert.equal(loc.location, 'oss-cn-hangzhou');

      const acl = await client.getBucketACL(names[0]);
      assert.equal(acl.acl, 'public-read');
      await client.putBucketACL(names[0], 'private');
      assert.equal((await client.getBucketACL(names[0])).acl, 'private');

      const listed = await client.listBuckets({ prefix });
      assert.deepEqual(listed.buckets.map(b => b.name), names);
      assert.equal(listed.isTruncated, false);
      const page = await client.listBuckets({ prefix, 'max-keys': 2 });
      assert.deepEqual(page.buckets.map(b => b.name), names.slice(0, 2));
      assert.equal(page.isTruncated, true);
      assert.equal(page.nextMarker, names[1]);
      const rest = await client.listBuckets({ prefix, marker: page.nextMarker, 'max-keys': 2 });
      assert.deepEqual(rest.buckets.map(b => b.name), names.slice(2));

      client.useBucket(names[2]);
      await client.put('k', Buffer.from('x'));
      await expectOssError(client.deleteBucket(names[2]), { status: 409, code: 'BucketNotEmpty' });
      await client.delete('k');
      const del = await client.deleteBucket(names[2]);
      assert.equal(del.res.status, 204);
      await expectOssError(client.getBucketInfo(names[2]), { status: 404, code: 'NoSuchBucket' });
    });

    test('put / get / head / getObjectMeta / delete with headers, meta and mime', async () => {
      const { client } = await freshBucket(variant);
      const data = randomBytes(4096);
      const key = 'dir/hello world.txt';
      const put = await client.put(key, data, {
        meta: { author: 'carol', n: '1' },
        headers: {
          'Cache-Control': 'max-age=60',
          'Content-Disposition': 'attachment; filename="h.txt"',
          Expires: 'Wed, 21 Oct 2015 07:28:00 GMT',
        },
      });
      assert.equal(put.res.status, 200);
      assert.equal(put.res.headers.etag, md5Etag(data));
      assert.equal(put.res.headers['x-oss-hash-crc64ecma'], crc64(data));
      assert.ok(put.res.headers['x-oss-request-id']);

      const got = await client.get(key);
      assert.equal(got.res.status, 200);
      assert.ok(Buffer.compare(got.content, data) === 0, 'content differs');
      assert.equal(got.res.headers['content-type'], 'text/plain');
      assert.equal(got.res.headers['x-oss-meta-author'], 'carol');
      assert.equal(got.res.headers['cache-control'], 'max-age=60');
      assert.equal(got.res.headers['content-disposition'], 'attachment; filename="h.txt"');
      assert.equal(got.res.headers.expires, 'Wed, 21 Oct 2015 07:28:00 GMT');
      assert.equal(got.res.headers['x-oss-hash-crc64ecma'], crc64(data));

      const head = await client.head(key);
      assert.equal(head.status, 200);
      assert.deepEqual(head.meta, { author: 'carol', n: '1' });
      assert.equal(head.res.headers.etag, md5Etag(data));
      assert.equal(Number(head.res.headers['content-length']), data.length);
      assert.equal(head.res.headers['x-oss-object-type'], 'Normal');

      const meta = await client.getObjectMeta(key);
      assert.equal(meta.status, 200);
      assert.equal(meta.res.headers.etag, md5Etag(data));
      assert.equal(Number(meta.res.headers['content-length']), data.length);

      const range = await client.get(key, { headers: { Range: 'bytes=10-19' } });
      assert.equal(range.res.status, 206);
      assert.ok(Buffer.compare(range.content, data.subarray(10, 20)) === 0);
      assert.equal(range.res.headers['content-range'], `bytes 10-19/${data.length}`);
      const suffix = await client.get(key, { headers: { Range: 'bytes=-7' } });
      assert.ok(Buffer.compare(suffix.content, data.subarray(data.length - 7)) === 0);

      const del = await client.delete(key);
      assert.equal(del.res.status, 204);
      await expectOssError(client.get(key), { status: 404, code: 'NoSuchKey' });
      assert.equal((await client.delete(key)).res.status, 204);
    });

    test('content type from extension, explicit mime, Content-MD5', async () => {
      const { client } = await freshBucket(variant);
      for (const [key, type] of [['p.jpg', 'image/jpeg'], ['t.txt', 'text/plain'], ['j.json', 'application/json']]) {
        await client.put(key, Buffer.from('x'));
        const h = await client.head(key);
        assert.equal(h.res.headers['content-type'], type, key);
      }
      await client.put('explicit.txt', Buffer.from('x'), { mime: 'application/x-explicit' });
      assert.equal((await client.head('explicit.txt')).res.headers['content-type'], 'application/x-explicit');

      // ali-oss sends Content-MD5 itself; a wrong explicit one must be refused.
      const body = Buffer.from('digest me');
      await expectOssError(
        client.put('md5', body, { headers: { 'Content-MD5': b64md5(Buffer.from('other')) } }),
        { status: 400, code: 'InvalidDigest' },
      );
    });

    test('conditional get and head', async () => {
      const { client } = await freshBucket(variant);
      const data = Buffer.from('conditional');
      await client.put('c', data);
      const etag = md5Etag(data);
      const ok = await client.get('c', { headers: { 'If-Match': etag } });
      assert.ok(Buffer.compare(ok.content, data) === 0);
      await expectOssError(client.get('c', { headers: { 'If-Match': '"00"' } }), { status: 412, code: 'PreconditionFailed' });
      const notModified = await client.get('c', { headers: { 'If-None-Match': etag } });
      assert.equal(notModified.res.status, 304);
      const h = await client.head('c', { headers: { 'If-None-Match': etag } });
      assert.equal(h.status, 304);
      await expectOssError(client.head('c', { headers: { 'If-Match': '"00"' } }), { status: 412, code: 'PreconditionFailed' });
    });

    test('error codes and names', async () => {
      const { name, client } = await freshBucket(variant);
      const e = await expectOssError(client.get('missing'), { status: 404, code: 'NoSuchKey', name: 'NoSuchKeyError' });
      assert.ok(e.requestId);
      await expectOssError(client.head('missing'), { status: 404, name: 'NoSuchKeyError' });
      const other = makeClient(server, variant, { bucket: uniqueBucket('gone') });
      await expectOssError(other.get('k'), { status: 404, code: 'NoSuchBucket', name: 'NoSuchBucketError' });
      const badSecret = makeClient(server, variant, { bucket: name, sk: `${server.sk}x` });
      await expectOssError(badSecret.get('k'), { status: 403, code: 'SignatureDoesNotMatch' });
      await expectOssError(badSecret.list(), { status: 403, code: 'SignatureDoesNotMatch' });
      const badId = makeClient(server, variant, { bucket: name, ak: 'LTAInobodyHasThisKey00' });
      await expectOssError(badId.get('k'), { status: 403, code: 'InvalidAccessKeyId' });
      await client.put('exists', Buffer.from('1'));
      await expectOssError(
        client.put('exists', Buffer.from('2'), { headers: { 'x-oss-forbid-overwrite': 'true' } }),
        { status: 409, code: 'FileAlreadyExists' },
      );
      assert.equal((await client.get('exists')).content.toString(), '1');
    });

    test('special keys round-trip', async () => {
      const { client } = await freshBucket(variant);
      for (const key of SPECIAL_KEYS) {
        const body = Buffer.from(`body of ${key}`);
        const r = await client.put(key, body);
        assert.equal(r.res.headers.etag, md5Etag(body), key);
        const g = await client.get(key);
        assert.equal(g.content.toString(), `body of ${key}`, key);
      }
      const listed = await client.list({ 'max-keys': 100 });
      const sorted = [...SPECIAL_KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(listed.objects.map(o => o.name), sorted);
      const listedV2 = await client.listV2({ 'max-keys': 100 });
      assert.deepEqual(listedV2.objects.map(o => o.name), sorted);
      const spaced = await client.list({ prefix: 'with space' });
      assert.deepEqual(spaced.objects.map(o => o.name), ['with space.txt']);
      const plus = await client.listV2({ prefix: 'plus+' });
      assert.deepEqual(plus.objects.map(o => o.name), ['plus+sign']);
    });

    test('deleteMulti (verbose and quiet)', async () => {
      const { client } = await freshBucket(variant);
      for (const key of SPECIAL_KEYS) await client.put(key, Buffer.from('d'));
      const half = SPECIAL_KEYS.slice(0, 4);
      const r = await client.deleteMulti(half);
      assert.deepEqual(r.deleted.map(d => d.Key).sort(), [...half].sort());
      const q = await client.deleteMulti(SPECIAL_KEYS.slice(4), { quiet: true });
      assert.deepEqual(q.deleted, []);
      const left = await client.list();
      assert.deepEqual(left.objects, []);
    });

    test('copy (COPY and REPLACE, other bucket, failed precondition)', async () => {
      const { name, client } = await freshBucket(variant);
      const data = randomBytes(2000);
      await client.put('src file+ü', data, { meta: { a: '1' }, mime: 'application/x-src' });
      const c = await client.copy('dst', 'src file+ü');
      assert.equal(c.res.status, 200);
      assert.equal(c.data.etag, md5Etag(data));
      let h = await client.head('dst');
      assert.deepEqual(h.meta, { a: '1' });
      assert.equal(h.res.headers['content-type'], 'application/x-src');

      await client.copy('dst2', 'src file+ü', { meta: { b: '2' } });
      h = await client.head('dst2');
      assert.deepEqual(h.meta, { b: '2' });
      assert.ok(Buffer.compare((await client.get('dst2')).content, data) === 0);

      const { client: other } = await freshBucket(variant);
      await other.copy('from-other', 'src file+ü', name);
      assert.ok(Buffer.compare((await other.get('from-other')).content, data) === 0);

      await expectOssError(
        client.copy('dst3', 'src file+ü', { headers: { 'If-Match': '"00"' } }),
        { status: 412, code: 'PreconditionFailed' },
      );
      await expectOssError(client.copy('dst4', 'no-such-source'), { status: 404, code: 'NoSuchKey' });
    });

    test('append', async () => {
      const { client } = await freshBucket(variant);
      const r1 = await client.append('ap', Buffer.from('12345'));
      assert.equal(r1.nextAppendPosition, '5');
      assert.equal(r1.res.headers['x-oss-hash-crc64ecma'], crc64(Buffer.from('12345')));
      const r2 = await client.append('ap', Buffer.from('678'), { position: r1.nextAppendPosition });
      assert.equal(r2.nextAppendPosition, '8');
      const err = await expectOssError(
        client.append('ap', Buffer.from('x'), { position: '3' }),
        { status: 409, code: 'PositionNotEqualToLength' },
      );
      assert.ok(err);
      assert.equal((await client.get('ap')).content.toString(), '12345678');
      const h = await client.head('ap');
      assert.equal(h.res.headers['x-oss-object-type'], 'Appendable');
      assert.equal(h.res.headers['x-oss-next-append-position'], '8');
      await client.put('normal', Buffer.from('n'));
      await expectOssError(client.append('normal', Buffer.from('x'), { position: '1' }), { status: 409, code: 'ObjectNotAppendable' });
    });

    test('list (v1) and listV2 with paging, delimiter, start-after, fetch-owner', async () => {
      const { client } = await freshBucket(variant);
      const keys = ['a/1', 'a/2', 'b/1', 'c', 'd', 'e'];
      for (const k of keys) await client.put(k, Buffer.from(k));

      const all = await client.list();
      assert.deepEqual(all.objects.map(o => o.name), keys);
      for (const o of all.objects) {
        assert.equal(o.etag, md5Etag(Buffer.from(o.name)));
        assert.equal(o.size, o.name.length);
        assert.equal(o.type, 'Normal');
        assert.ok(o.owner.id);
      }
      const dl = await client.list({ delimiter: '/' });
      assert.deepEqual(dl.prefixes, ['a/', 'b/']);
      assert.deepEqual(dl.objects.map(o => o.name), ['c', 'd', 'e']);
      const seen = [];
      let marker = '';
      for (;;) {
        const page = await client.list({ marker, 'max-keys': 4 });
        seen.push(...page.objects.map(o => o.name));
        if (!page.isTruncated) break;
        assert.equal(page.nextMarker, seen[seen.length - 1]);
        marker = page.nextMarker;
      }
      assert.deepEqual(seen, keys);

      const p1 = await client.listV2({ 'max-keys': 4 });
      assert.deepEqual(p1.objects.map(o => o.name), keys.slice(0, 4));
      assert.equal(p1.keyCount, 4);
      assert.equal(p1.isTruncated, true);
      assert.ok(p1.nextContinuationToken);
      assert.equal(p1.objects[0].owner, null);
      const p2 = await client.listV2({ 'max-keys': 4, 'continuation-token': p1.nextContinuationToken });
      assert.deepEqual(p2.objects.map(o => o.name), keys.slice(4));
      assert.equal(p2.keyCount, 2);
      assert.equal(p2.isTruncated, false);
      const sa = await client.listV2({ 'start-after': 'b/1' });
      assert.deepEqual(sa.objects.map(o => o.name), ['c', 'd', 'e']);
      const fo = await client.listV2({ 'fetch-owner': true, prefix: 'a/' });
      assert.deepEqual(fo.objects.map(o => o.name), ['a/1', 'a/2']);
      assert.ok(fo.objects.every(o => o.owner && o.owner.id));
      const d2 = await client.listV2({ delimiter: '/' });
      assert.deepEqual(d2.prefixes, ['a/', 'b/']);
      assert.equal(d2.keyCount, 5);
    });

    test('object ACL and tagging', async () => {
      const { client } = await freshBucket(variant);
      await client.put('t', Buffer.from('t'));
      assert.equal((await client.getACL('t')).acl, 'default');
      await client.putACL('t', 'public-read');
      assert.equal((await client.getACL('t')).acl, 'public-read');
      await expectOssError(client.getACL('missing'), { status: 404, code: 'NoSuchKey' });

      const put = await client.putObjectTagging('t', { a: '1', 'b c': 'd e' });
      assert.equal(put.status, 200);
      assert.deepEqual((await client.getObjectTagging('t')).tag, { a: '1', 'b c': 'd e' });
      const h = await client.head('t');
      assert.equal(h.res.headers['x-oss-tagging-count'], '2');
      const del = await client.deleteObjectTagging('t');
      assert.equal(del.status, 204);
      assert.deepEqual((await client.getObjectTagging('t')).tag, {});
    });

    if (variant.style === 'ip') {
      test('signatureUrl refuses IP endpoints (by design of ali-oss)', async () => {
        const { client } = await freshBucket(variant);
        assert.throws(() => client.signatureUrl('k'), /endpoint is IP/);
      });
    } else {
      test('signatureUrl / signatureUrlV4 fetched with global fetch', async () => {
        const { client } = await freshBucket(variant);
        const key = 'ps/a b+ü.txt';
        const data = Buffer.from('presigned by ali-oss');
        await client.put(key, data);

        const getUrl = client.signatureUrl(key, { expires: 300 });
        assert.match(getUrl, /^http:\/\/localhost:\d+\/[a-z0-9-]+\/ps\//);
        let r = await fetch(getUrl);
        assert.equal(r.status, 200, await r.clone().text());
        assert.ok(Buffer.compare(Buffer.from(await r.arrayBuffer()), data) === 0);

        const typed = client.signatureUrl(key, { expires: 300, response: { 'content-type': 'text/x-presigned' } });
        r = await fetch(typed);
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(r.headers.get('content-type'), 'text/x-presigned');

        const body = randomBytes(512);
        const putUrl = client.signatureUrl('ps/upload.bin', { method: 'PUT', expires: 300, 'Content-Type': 'application/x-up' });
        r = await fetch(putUrl, { method: 'PUT', body, headers: { 'Content-Type': 'application/x-up' } });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(r.headers.get('etag'), md5Etag(body));
        assert.ok(Buffer.compare((await client.get('ps/upload.bin')).content, body) === 0);

        const asyncUrl = await client.asyncSignatureUrl(key, { expires: 300 });
        r = await fetch(asyncUrl);
        assert.equal(r.status, 200);

        const v4Url = await client.signatureUrlV4('GET', 300, undefined, key);
        assert.match(v4Url, /x-oss-signature=/);
        r = await fetch(v4Url);
        assert.equal(r.status, 200, await r.clone().text());
        assert.ok(Buffer.compare(Buffer.from(await r.arrayBuffer()), data) === 0);

        // tampering breaks the signature
        const tampered = getUrl.replace(/Signature=([^&])/, (m, c) => `Signature=${c === 'A' ? 'B' : 'A'}`);
        r = await fetch(tampered);
        assert.equal(r.status, 403);
        assert.match(await r.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
        const expired = client.signatureUrl(key, { expires: -60 });
        r = await fetch(expired);
        assert.equal(r.status, 403);
        assert.match(await r.text(), /<Code>AccessDenied<\/Code>/);
      });
    }
  });
}
