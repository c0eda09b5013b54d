// Object operations as OSS answers them (issue 11's wire differences) through ali-oss: spaced
// keys, tag validation, the append position error, copy conditions, multipart listings with a
// delimiter, bucket CORS and ACL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { VARIANTS, expectOssError, makeClient, uniqueBucket, useServer } from './helpers.mjs';

let server;
useServer((s) => {
  server = s;
});

async function freshBucket(variant) {
  const name = uniqueBucket('nwire');
  const client = makeClient(server, variant);
  await client.putBucket(name);
  client.useBucket(name);
  return { name, client };
}

const SPACED = [' lead', 'trail ', '  both  ', 'tab\tkey\t'];

for (const variant of [VARIANTS[0], VARIANTS[1]]) {
  describe(`ali-oss object wire ${variant.name}`, () => {
    test('keys with leading and trailing whitespace survive put, list, copy and deleteMulti', async () => {
      const { name, client } = await freshBucket(variant);
      for (const k of SPACED) await client.put(k, Buffer.from(k));
      const want = [...SPACED].sort();
      assert.deepEqual((await client.list({ 'max-keys': 100 })).objects.map((o) => o.name), want);
      assert.deepEqual((await client.listV2({ 'max-keys': 100 })).objects.map((o) => o.name), want);
      await client.copy(' copy ', 'trail ', name);
      assert.equal((await client.get(' copy ')).content.toString(), 'trail ');
      const r = await client.deleteMulti([...SPACED, ' copy ']);
      assert.deepEqual(r.deleted.map((d) => d.Key).sort(), [...SPACED, ' copy '].sort());
      assert.deepEqual(((await client.list()).objects || []).map((o) => o.name), []);
    });

    test('object tags are validated as OSS does', async () => {
      const { client } = await freshBucket(variant);
      await client.put('t', Buffer.from('x'));
      await client.putObjectTagging('t', { 'a +-=._:/': 'v +-=._:/' });
      assert.deepEqual((await client.getObjectTagging('t')).tag, { 'a +-=._:/': 'v +-=._:/' });
      // ali-oss checks keys and values itself before sending putObjectTagging; a header it
      // passes through unchecked reaches the server's own check.
      await expectOssError(client.put('h', Buffer.from('x'), { headers: { 'x-oss-tagging': 'k=a%40b' } }),
        { status: 400, code: 'InvalidTag' });
      await expectOssError(client.put('h', Buffer.from('x'), { headers: { 'x-oss-tagging': 'k=1&k=2' } }),
        { status: 400, code: 'InvalidTag' });
    });

    test('append at a wrong position names the length', async () => {
      const { client } = await freshBucket(variant);
      await client.append('app', Buffer.from('abc'));
      const e = await expectOssError(client.append('app', Buffer.from('x'), { position: '7' }),
        { status: 409, code: 'PositionNotEqualToLength' });
      assert.equal(e.message, 'Position is not equal to file length');
    });

    test('copy conditions: 304 for if-none-match, 412 for if-match', async () => {
      const { name, client } = await freshBucket(variant);
      const { res } = await client.put('src', Buffer.from('source'));
      const etag = res.headers.etag;
      // ali-oss counts 304 among copy's success statuses: OSS answers a failed
      // if-none-match with it, and nothing is copied.
      const nm = await client.copy('dst', 'src', name, { headers: { 'x-oss-copy-source-if-none-match': etag } });
      assert.equal(nm.res.status, 304);
      await expectOssError(client.head('dst'), { status: 404 });
      await expectOssError(client.copy('dst', 'src', name,
        { headers: { 'x-oss-copy-source-if-match': '"00000000000000000000000000000000"' } }),
      { status: 412, code: 'PreconditionFailed' });
      await client.copy('dst', 'src', name, { headers: { 'x-oss-copy-source-if-match': etag } });
      assert.equal((await client.get('dst')).content.toString(), 'source');
    });

    test('listUploads with a delimiter pages through prefixes to the end', async () => {
      const { client } = await freshBucket(variant);
      const keys = ['d0/x', 'd1/x', 'd1/y', 'd2/x', 'f0', 'f1'];
      for (const k of keys) await client.initMultipartUpload(k);
      const prefixes = [];
      const uploads = [];
      let query = { delimiter: '/', 'max-uploads': 2 };
      for (let page = 0; page < 20; page++) {
        const r = await client.listUploads(query);
        uploads.push(...r.uploads.map((u) => u.name));
        if (r.res.data) {
          const xml = r.res.data.toString();
          for (const m of xml.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)) prefixes.push(m[1]);
        }
        if (!r.nextKeyMarker && !r.nextUploadIdMarker) break;
        // An empty upload-id-marker is signed `upload-id-marker=` next to a bare `uploads`.
        query = { delimiter: '/', 'max-uploads': 2, 'key-marker': r.nextKeyMarker,
          'upload-id-marker': r.nextUploadIdMarker || '' };
        assert.ok(page < 19, 'listing did not end');
      }
      assert.deepEqual(prefixes, ['d0/', 'd1/', 'd2/']);
      assert.deepEqual(uploads, ['f0', 'f1']);
    });

    test('getBucketCORS without rules is 404; putBucketACL creates a missing bucket', async () => {
      const { client } = await freshBucket(variant);
      await expectOssError(client.getBucketCORS(client.options.bucket),
        { status: 404, code: 'NoSuchCORSConfiguration' });
      const name = uniqueBucket('nacl');
      await client.putBucketACL(name, 'public-read');
      assert.equal((await client.getBucketACL(name)).acl, 'public-read');
    });
  });
}
