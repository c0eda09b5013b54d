// examples/node-callback end to end: a real ossd, the example's server.mjs as its own process,
// a PostObject with the fields it signs, and the callback it verifies with node:crypto.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { OssdServer, REPO_ROOT } from './helpers.mjs';

let ossd;
let app;
let appUrl;

function startApp(env) {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'examples', 'node-callback', 'server.mjs')], {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSSD_'))), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', d => (err += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server.mjs did not start: ${err}`)), 20000);
    proc.on('exit', code => fail(new Error(`server.mjs exited with ${code}: ${err}`)));
    createInterface({ input: proc.stdout }).on('line', line => {
      const m = /listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok({ proc, url: m[1] });
      }
    });
  });
}

before(async () => {
  ossd = await new OssdServer().start();
  ({ proc: app, url: appUrl } = await startApp({
    OSSD_ENDPOINT: ossd.ipEndpoint,
    OSSD_ACCESS_KEY_ID: ossd.ak,
    OSSD_ACCESS_KEY_SECRET: ossd.sk,
    BUCKET: 'node-callback-e2e',
    PORT: '0',
  }));
});

after(async () => {
  app?.kill('SIGTERM');
  await ossd?.stop();
});

async function upload(fields, data) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([data]), 'f.bin');
  return form;
}

test('the form page carries the signed fields', async () => {
  const html = await (await fetch(`${appUrl}/`)).text();
  assert.match(html, /name="policy"/);
  assert.match(html, /name="callback"/);
});

test('PostObject with the example policy: the callback is verified and answered', async () => {
  const { url, fields } = await (await fetch(`${appUrl}/post-policy?key=uploads/e2e.bin`)).json();
  const data = Buffer.from('hello from the example test');
  const r = await fetch(url, { method: 'POST', body: await upload(fields, data) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  assert.deepEqual(JSON.parse(text), { Status: 'OK', verified: true, object: 'uploads/e2e.bin' });
  const got = await (await fetch(`${appUrl}/callbacks`)).json();
  assert.deepEqual(got.at(-1), {
    bucket: 'node-callback-e2e',
    object: 'uploads/e2e.bin',
    size: String(data.length),
    mimeType: 'application/octet-stream',
    note: 'from node-callback',
  });
});

test('a swapped callback field is refused by the policy', async () => {
  const { url, fields } = await (await fetch(`${appUrl}/post-policy?key=uploads/swap.bin`)).json();
  fields.callback = Buffer.from(JSON.stringify({ callbackUrl: 'http://127.0.0.1:1/x', callbackBody: 'a=1' })).toString('base64');
  const r = await fetch(url, { method: 'POST', body: await upload(fields, Buffer.from('x')) });
  assert.equal(r.status, 403, await r.text());
});

test('a forged callback is refused by the receiver', async () => {
  const r = await fetch(`${appUrl}/callback`, {
    method: 'POST',
    headers: {
      authorization: Buffer.from('forged').toString('base64'),
      'x-oss-pub-key-url': Buffer.from(`${ossd.ipEndpoint}/_ossd/callback_pub_key.pem`).toString('base64'),
    },
    body: 'bucket=b&object=o',
  });
  assert.equal(r.status, 400);
});
