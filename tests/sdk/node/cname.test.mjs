// ali-oss with `cname: true`: the host stands for one bucket (`ossd serve --cname host=bucket`),
// requests carry `/<key>` and no bucket anywhere but the signature.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import OSS from 'ali-oss';

import { OssdServer, md5Etag, uniqueBucket } from './helpers.mjs';

const BUCKET = uniqueBucket('cname');
let server;

before(async () => {
  server = new OssdServer({ extraArgs: ['--cname', `localhost=${BUCKET}`] });
  await server.start();
  // The bucket is created through the IP endpoint (virtual-hosted by ali-oss's forged Host).
  const root = new OSS({ endpoint: server.ipEndpoint, region: 'oss-cn-hangzhou', accessKeyId: server.ak,
    accessKeySecret: server.sk, retryMax: 0 });
  await root.putBucket(BUCKET);
});

after(async () => {
  if (server) {
    await server.stop();
    server.cleanup();
  }
});

for (const v4 of [false, true]) {
  test(`cname host serves one bucket (${v4 ? 'V4' : 'V1'})`, async () => {
    const client = new OSS({ endpoint: server.localhostEndpoint, cname: true, bucket: BUCKET,
      region: 'oss-cn-hangzhou', accessKeyId: server.ak, accessKeySecret: server.sk,
      authorizationV4: v4, retryMax: 0 });
    const body = randomBytes(3000);
    const key = `dir/${v4 ? 'four' : 'one'} file.bin`;
    const put = await client.put(key, body);
    assert.equal(put.res.status, 200);
    assert.equal(put.res.headers.etag, md5Etag(body));
    const got = await client.get(key);
    assert.deepEqual(got.content, body);
    const list = await client.list({ prefix: 'dir/' });
    assert.ok(list.objects.some(o => o.name === key));
    // The same object through the IP endpoint's virtual-hosted addressing.
    const viaIp = new OSS({ endpoint: server.ipEndpoint, bucket: BUCKET, region: 'oss-cn-hangzhou',
      accessKeyId: server.ak, accessKeySecret: server.sk, retryMax: 0 });
    assert.deepEqual((await viaIp.get(key)).content, body);
    if (!v4) {
      // A presigned URL on the cname host.
      const url = client.signatureUrl(key, { expires: 60 });
      assert.ok(!url.includes(`/${BUCKET}/`), url);
      const r = await fetch(url);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), body);
    }
  });
}
