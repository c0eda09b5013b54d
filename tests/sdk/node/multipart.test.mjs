// Multipart uploads through ali-oss (managed multipartUpload with progress, resume and callback;
// the low-level calls) against a real ossd.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { OssdServer, VARIANTS, crc64, expectOssError, makeClient, uniqueBucket } from './helpers.mjs';
import { Receiver, closedPort } from './receiver.mjs';

const KiB = 1024;
let server;
let tmp;

before(async () => {
  server = new OssdServer();
  await server.start();
  tmp = mkdtempSync(join(tmpdir(), 'ossd-mp-'));
});

after(async () => {
  if (server) {
    await server.stop();
    server.cleanup();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function tempFile(name, size) {
  const data = randomBytes(size);
  const path = join(tmp, name);
  writeFileSync(path, data);
  return { path, data };
}

async function freshBucket(variant) {
  const name = uniqueBucket('nmp');
  const client = makeClient(server, variant);
  await client.putBucket(name);
  client.useBucket(name);
  return { name, client };
}

function md5hex(buf) {
  return createHash('md5').update(buf).digest('hex').toUpperCase();
}

// S3-style multipart ETag: MD5 of the binary part MD5s, '-' part count.
function multipartEtag(parts) {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `${h.digest('hex').toUpperCase()}-${parts.length}`;
}

for (const variant of [VARIANTS[0], VARIANTS[3]]) {
  describe(`ali-oss multipart ${variant.name}`, () => {
    test('multipartUpload of a file: parallel parts, progress up to 1, bytes and CRC', async () => {
      const { client } = await freshBucket(variant);
      const { path, data } = tempFile(`mp-${variant.name}.bin`, 1000 * KiB + 123);
      const progress = [];
      const result = await client.multipartUpload('mp/file ü.bin', path, {
        parallel: 4,
        partSize: 100 * KiB,
        progress: p => {
          progress.push(p);
        },
      });
      assert.equal(result.res.status, 200);
      assert.equal(result.res.headers['x-oss-hash-crc64ecma'], crc64(data));
      assert.equal(progress[0], 0);
      assert.equal(progress[progress.length - 1], 1);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1], `progress ${progress}`);
      assert.equal(progress.length, 1 + 11 + 1); // init, 11 parts, complete
      const got = await client.get('mp/file ü.bin');
      assert.ok(got.content.equals(data));
      const head = await client.head('mp/file ü.bin');
      assert.equal(head.res.headers['x-oss-object-type'], 'Multipart');
      assert.equal(head.res.headers['content-type'], 'application/octet-stream');
    });

    test('multipartUpload with callback: result.data is the receiver JSON', async () => {
      const { name, client } = await freshBucket(variant);
      const r = await new Receiver({ body: '{"mp":"callback"}' }).start();
      try {
        const { path, data } = tempFile(`cb-${variant.name}.bin`, 350 * KiB);
        const result = await client.multipartUpload('mp/cb.bin', path, {
          parallel: 3,
          partSize: 100 * KiB,
          callback: {
            url: r.url('/mp'),
            body: 'bucket=${bucket}&object=${object}&size=${size}&op=${operation}&md5=${contentMd5}&v=${x:v}',
            customValue: { v: 'multi part' },
          },
        });
        assert.equal(result.res.status, 200);
        assert.deepEqual(result.data, { mp: 'callback' });
        const [call] = await r.waitCalls(1);
        assert.ok(call.verified, call.verifyError);
        assert.deepEqual(call.form(), {
          bucket: name,
          object: 'mp/cb.bin',
          size: String(data.length),
          op: 'CompleteMultipartUpload',
          md5: '',
          v: 'multi part',
        });
        assert.ok((await client.get('mp/cb.bin')).content.equals(data));
      } finally {
        await r.close();
      }
    });

    test('multipartUpload of a small file with callback goes through put', async () => {
      const { client } = await freshBucket(variant);
      const r = await new Receiver({ body: '{"small":true}' }).start();
      try {
        const { path, data } = tempFile(`small-${variant.name}.txt`, 10 * KiB);
        const result = await client.multipartUpload('mp/small.txt', path, {
          callback: { url: r.url(), body: 'op=${operation}&size=${size}&mime=${mimeType}' },
        });
        assert.deepEqual(result.data, { small: true });
        const [call] = await r.waitCalls(1);
        assert.ok(call.verified, call.verifyError);
        assert.deepEqual(call.form(), { op: 'PutObject', size: String(data.length), mime: 'text/plain' });
      } finally {
        await r.close();
      }
    });

    test('multipartUpload with an unreachable callback: CallbackFailedError, object complete', async () => {
      const { client } = await freshBucket(variant);
      const { path, data } = tempFile(`down-${variant.name}.bin`, 250 * KiB);
      const port = await closedPort();
      const err = await expectOssError(
        client.multipartUpload('mp/down.bin', path, {
          partSize: 100 * KiB,
          callback: { url: `http://127.0.0.1:${port}/`, body: 'a=1' },
        }),
        { status: 203, code: 'CallbackFailed' },
      );
      assert.equal(err.ecCode, '0007-00000203');
      assert.ok((await client.get('mp/down.bin')).content.equals(data));
      const ups = await client.listUploads({ prefix: 'mp/down' });
      assert.deepEqual(ups.uploads, []);
    });

    test('cancel mid-way, then resume from the checkpoint', async () => {
      const { client } = await freshBucket(variant);
      const { path, data } = tempFile(`resume-${variant.name}.bin`, 1200 * KiB);
      let checkpoint = null;
      let err = null;
      try {
        await client.multipartUpload('mp/resume.bin', path, {
          parallel: 1,
          partSize: 100 * KiB,
          progress: (p, cpt) => {
            if (cpt) checkpoint = JSON.parse(JSON.stringify(cpt));
            if (cpt && cpt.doneParts.length >= 4) client.cancel();
          },
        });
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'the upload should have been cancelled');
      assert.equal(err.name, 'cancel');
      assert.ok(checkpoint && checkpoint.uploadId);
      const done = checkpoint.doneParts.length;
      assert.ok(done >= 4 && done < 12, `done parts: ${done}`);

      // The server kept the parts of the unfinished upload.
      const listed = await client.listParts('mp/resume.bin', checkpoint.uploadId);
      assert.ok(listed.parts.length >= done);
      const ups = await client.listUploads({ prefix: 'mp/resume' });
      assert.deepEqual(ups.uploads.map(u => u.uploadId), [checkpoint.uploadId]);
      await assert.rejects(client.head('mp/resume.bin'), e => e.status === 404);

      const uploadedAfterResume = [];
      const result = await client.multipartUpload('mp/resume.bin', path, {
        parallel: 3,
        partSize: 100 * KiB,
        checkpoint,
        progress: (p, cpt) => {
          if (cpt) uploadedAfterResume.push(cpt.doneParts.length);
        },
      });
      assert.equal(result.res.status, 200);
      assert.equal(result.res.headers['x-oss-hash-crc64ecma'], crc64(data));
      assert.equal(uploadedAfterResume.length, 12 - done, 'only the missing parts are uploaded again');
      assert.ok((await client.get('mp/resume.bin')).content.equals(data));
      assert.deepEqual((await client.listUploads({ prefix: 'mp/resume' })).uploads, []);
    });

    test('low level: init, uploadPart, listParts, completeMultipartUpload with callback', async () => {
      const { name, client } = await freshBucket(variant);
      const r = await new Receiver({ body: '{"complete":"cb"}' }).start();
      try {
        const { path, data } = tempFile(`low-${variant.name}.bin`, 230 * KiB);
        const init = await client.initMultipartUpload('mp/low.bin', { mime: 'text/csv' });
        const { uploadId } = init;
        const p1 = await client.uploadPart('mp/low.bin', uploadId, 1, path, 0, 120 * KiB);
        const p2 = await client.uploadPart('mp/low.bin', uploadId, 2, path, 120 * KiB, data.length);
        assert.equal(p1.etag, `"${md5hex(data.subarray(0, 120 * KiB))}"`);
        const lp = await client.listParts('mp/low.bin', uploadId);
        assert.deepEqual(lp.parts.map(p => [Number(p.PartNumber), Number(p.Size)]), [
          [1, 120 * KiB],
          [2, data.length - 120 * KiB],
        ]);
        const result = await client.completeMultipartUpload(
          'mp/low.bin',
          uploadId,
          [
            { number: 1, etag: p1.etag },
            { number: 2, etag: p2.etag },
          ],
          {
            callback: {
              url: r.url('/low'),
              contentType: 'application/json',
              body: '{"size":${size},"etag":${etag},"op":${operation},"mime":${mimeType},"v":${x:v}}',
              customValue: { v: 'ü' },
            },
          },
        );
        assert.equal(result.res.status, 200);
        assert.deepEqual(result.data, { complete: 'cb' });
        const [call] = await r.waitCalls(1);
        assert.ok(call.verified, call.verifyError);
        assert.deepEqual(call.json(), {
          size: data.length,
          etag: multipartEtag([data.subarray(0, 120 * KiB), data.subarray(120 * KiB)]),
          op: 'CompleteMultipartUpload',
          mime: 'text/csv',
          v: 'ü',
        });
        assert.ok((await client.get('mp/low.bin')).content.equals(data));
      } finally {
        await r.close();
      }
    });

    test('listUploads and abortMultipartUpload', async () => {
      const { client } = await freshBucket(variant);
      const a = await client.initMultipartUpload('lu/a');
      const b = await client.initMultipartUpload('lu/b');
      const c = await client.initMultipartUpload('other/c');
      await client.uploadPart('lu/a', a.uploadId, 1, tempFile(`lu-${variant.name}`, 1000).path, 0, 1000);

      const all = await client.listUploads({});
      assert.deepEqual(all.uploads.map(u => u.name).sort(), ['lu/a', 'lu/b', 'other/c']);
      const some = await client.listUploads({ prefix: 'lu/' });
      assert.deepEqual(some.uploads.map(u => [u.name, u.uploadId]).sort(), [
        ['lu/a', a.uploadId],
        ['lu/b', b.uploadId],
      ]);
      const page = await client.listUploads({ 'max-uploads': 1 });
      assert.equal(page.uploads.length, 1);
      assert.equal(page.isTruncated, true);
      const rest = await client.listUploads({
        'key-marker': page.nextKeyMarker,
        'upload-id-marker': page.nextUploadIdMarker,
      });
      assert.equal(rest.uploads.length, 2);

      const ab = await client.abortMultipartUpload('lu/a', a.uploadId);
      assert.equal(ab.res.status, 204);
      await expectOssError(client.listParts('lu/a', a.uploadId), { status: 404, code: 'NoSuchUpload' });
      await expectOssError(client.abortMultipartUpload('lu/a', a.uploadId), { status: 404, code: 'NoSuchUpload' });
      const left = await client.listUploads({});
      assert.deepEqual(left.uploads.map(u => u.name).sort(), ['lu/b', 'other/c']);
      await client.abortMultipartUpload('lu/b', b.uploadId);
      await client.abortMultipartUpload('other/c', c.uploadId);
      assert.deepEqual((await client.listUploads({})).uploads, []);
    });
  });
}
