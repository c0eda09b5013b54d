// PostObject from a real HTML form in headless Debian Chromium (shared/spec/oss-api.md section 2,
// callback.md): a page served from one loopback port posts a multipart/form-data form, signed
// here with a V1 policy, straight to ossd on another port. No CORS is involved: it is a plain
// form navigation. Run: cd tests/sdk/browser && npm ci && node --test postobject.test.mjs
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { OssdServer } from '../node/helpers.mjs';
import { Receiver } from '../node/receiver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(here, '..', '..', '..');
const OSSD_BIN = process.env.OSSD_BIN || join(REPO_ROOT, 'target', 'debug', 'ossd');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

// ------------------------------------------------------------------ ossd ---

/** The shared launcher (tests/sdk/node/helpers.mjs; two nodes in scripts/test's cluster pass),
 * plus the V1-signed requests this suite makes by hand. */
class Ossd {
  constructor(extraArgs = []) {
    this.server = new OssdServer({ extraArgs });
    this.ak = this.server.ak;
    this.sk = this.server.sk;
  }

  async start() {
    await this.server.start();
    return this;
  }

  get addr() {
    return this.server.addr;
  }

  get base() {
    return `http://${this.addr}`;
  }

  // V1 header-signed request, path style (oss-api.md 1.1).
  async request(method, bucket, key = '', { headers = {}, body } = {}) {
    const date = new Date().toUTCString();
    const type = headers['Content-Type'] || '';
    const oss = Object.keys(headers)
      .filter(h => h.toLowerCase().startsWith('x-oss-'))
      .map(h => [h.toLowerCase(), String(headers[h]).trim()])
      .sort()
      .map(([k, v]) => `${k}:${v}\n`)
      .join('');
    const sts = `${method}\n\n${type}\n${date}\n${oss}/${bucket}/${key}`;
    const sig = createHmac('sha1', this.sk).update(sts).digest('base64');
    const url = `${this.base}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    return fetch(url, { method, headers: { ...headers, Date: date, Authorization: `OSS ${this.ak}:${sig}` }, body });
  }

  async stop() {
    await this.server.stop();
    this.server.cleanup();
  }
}

// ------------------------------------------------------- form and policy ---

function signPolicyV1(sk, conditions) {
  const expiration = new Date(Date.now() + 10 * 60 * 1000).toISOString();
  const policy = Buffer.from(JSON.stringify({ expiration, conditions })).toString('base64');
  const signature = createHmac('sha1', sk).update(policy).digest('base64');
  return { policy, signature };
}

const esc = s =>
  String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function formPage(action, fields) {
  const hidden = fields
    .map(([k, v]) => `    <input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ossd PostObject</title>
<style>body{font:16px sans-serif;margin:2em} fieldset{max-width:40em}</style></head>
<body>
  <h1>Upload to ossd with a browser form</h1>
  <form id="upload" method="post" enctype="multipart/form-data" action="${esc(action)}">
${hidden}
    <fieldset><legend>File</legend><input id="file" type="file" name="file"></fieldset>
    <p><button id="submit" type="submit">Upload</button></p>
  </form>
</body></html>`;
}

function donePage(query) {
  const rows = ['bucket', 'key', 'etag']
    .map(k => `<tr><th>${k}</th><td id="${k}">${esc(query.get(k) ?? '')}</td></tr>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Uploaded</title>
<style>body{font:16px sans-serif;margin:2em} th{text-align:left;padding-right:1em}</style></head>
<body><h1>Upload complete</h1><table>${rows}</table></body></html>`;
}

// ----------------------------------------------------------------- setup ---

let ossd;
let pages;
let pageBase;
let browser;
let userDataDir;
let bucket;
const forms = new Map(); // id -> fields

before(async () => {
  assert.ok(existsSync(OSSD_BIN), `ossd binary missing at ${OSSD_BIN}: cargo build -p ossd`);
  assert.ok(existsSync(CHROMIUM), `chromium missing at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  ossd = await new Ossd(['--callback-timeout-ms', '2000']).start();
  bucket = `br-${randomBytes(8).toString('hex')}`;
  const put = await ossd.request('PUT', bucket);
  assert.equal(put.status, 200, await put.text());

  pages = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let html;
    if (url.pathname === '/form' && forms.has(url.searchParams.get('id'))) {
      html = formPage(`${ossd.base}/${bucket}/`, forms.get(url.searchParams.get('id')));
    } else if (url.pathname === '/done') {
      html = donePage(url.searchParams);
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise(r => pages.listen(0, '127.0.0.1', r));
  pageBase = `http://127.0.0.1:${pages.address().port}`;

  userDataDir = mkdtempSync(join(tmpdir(), 'ossd-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    viewport: { width: 900, height: 600 },
  });
});

after(async () => {
  if (browser) await browser.close();
  if (pages) await new Promise(r => pages.close(r));
  if (ossd) await ossd.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

function baseFields(extraConditions = []) {
  const { policy, signature } = signPolicyV1(ossd.sk, [
    { bucket },
    ['starts-with', '$key', 'browser/'],
    ['content-length-range', 1, 1024 * 1024],
    ...extraConditions,
  ]);
  return [
    ['key', 'browser/${filename}'],
    ['OSSAccessKeyId', ossd.ak],
    ['policy', policy],
    ['Signature', signature],
    ['Content-Type', 'text/plain'],
    ['x-oss-meta-uploaded-by', 'chromium'],
  ];
}

function md5hex(buf) {
  return createHash('md5').update(buf).digest('hex').toUpperCase();
}

// Opens the form page, picks the file, submits; returns the ossd response to the POST.
async function submit(page, fields, file) {
  const id = randomBytes(6).toString('hex');
  forms.set(id, fields);
  await page.goto(`${pageBase}/form?id=${id}`);
  await page.setInputFiles('#file', file);
  const [resp] = await Promise.all([
    page.waitForResponse(r => r.request().method() === 'POST' && r.url().startsWith(ossd.base)),
    page.click('#submit'),
  ]);
  return resp;
}

async function assertStored(key, data, { contentType = 'text/plain' } = {}) {
  // Node's fetch asks for gzip; OSS then compresses text bodies of 1 KB and more and answers
  // no ETag (as its documentation says), so the stored object is read as it is.
  const got = await ossd.request('GET', bucket, key, { headers: { 'accept-encoding': 'identity' } });
  assert.equal(got.status, 200, `GET ${key}`);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(data), 'stored bytes differ');
  assert.equal(got.headers.get('etag'), `"${md5hex(data)}"`);
  assert.equal(got.headers.get('content-type'), contentType);
  assert.equal(got.headers.get('x-oss-meta-uploaded-by'), 'chromium');
}

// ----------------------------------------------------------------- tests ---

test('form upload with success_action_status=201 shows the PostResponse XML', async () => {
  const page = await browser.newPage();
  const data = Buffer.from(`hello from chromium ${randomBytes(8).toString('hex')}\n`);
  const resp = await submit(page, [...baseFields(), ['success_action_status', '201']], {
    name: 'hello 201.txt',
    mimeType: 'text/plain',
    buffer: data,
  });
  assert.equal(resp.status(), 201);
  const xml = await resp.text();
  assert.match(xml, /<PostResponse>/);
  assert.match(xml, new RegExp(`<Bucket>${bucket}</Bucket>`));
  assert.match(xml, /<Key>browser\/hello 201\.txt<\/Key>/);
  assert.match(xml, new RegExp(`<ETag>&quot;${md5hex(data)}&quot;</ETag>|<ETag>"${md5hex(data)}"</ETag>`));
  await page.waitForLoadState();
  const shown = await page.evaluate(() => document.documentElement.textContent);
  assert.match(shown, /browser\/hello 201\.txt/);
  assert.match(shown, new RegExp(md5hex(data)));
  await page.screenshot({ path: join(ARTIFACTS, 'postobject-201.png') });
  await assertStored('browser/hello 201.txt', data);
  await page.close();
});

test('form upload with success_action_redirect lands on the page server (303)', async () => {
  const page = await browser.newPage();
  const data = randomBytes(40 * 1024);
  const resp = await submit(page, [...baseFields(), ['success_action_redirect', `${pageBase}/done`]], {
    name: 'photo ü.bin',
    mimeType: 'application/octet-stream',
    buffer: data,
  });
  assert.equal(resp.status(), 303);
  await page.waitForURL(u => u.pathname === '/done');
  const url = new URL(page.url());
  assert.equal(url.origin, pageBase);
  assert.equal(url.searchParams.get('bucket'), bucket);
  assert.equal(url.searchParams.get('key'), 'browser/photo ü.bin');
  assert.equal(url.searchParams.get('etag').replaceAll('"', ''), md5hex(data));
  assert.equal(await page.textContent('#key'), 'browser/photo ü.bin');
  await page.screenshot({ path: join(ARTIFACTS, 'postobject.png') });
  await assertStored('browser/photo ü.bin', data);
  await page.close();
});

test('form upload with a callback: the page receives the receiver JSON', async () => {
  const receiver = await new Receiver({ body: '{"Status":"OK","from":"receiver"}' }).start();
  try {
    const page = await browser.newPage();
    const data = Buffer.from('callback from a browser form\n');
    const callback = Buffer.from(
      JSON.stringify({
        callbackUrl: receiver.url('/browser'),
        callbackBody:
          'bucket=${bucket}&object=${object}&size=${size}&mimeType=${mimeType}&etag=${etag}' +
          '&operation=${operation}&who=${x:who}',
      }),
    ).toString('base64');
    const resp = await submit(page, [...baseFields(), ['callback', callback], ['x:who', 'a browser user']], {
      name: 'cb.txt',
      mimeType: 'text/plain',
      buffer: data,
    });
    assert.equal(resp.status(), 200);
    assert.equal(await resp.text(), '{"Status":"OK","from":"receiver"}');
    assert.match(resp.headers()['content-type'], /^application\/json/);
    const [call] = await receiver.waitCalls(1);
    assert.ok(call.verified, call.verifyError);
    assert.deepEqual(call.form(), {
      bucket,
      object: 'browser/cb.txt',
      size: String(data.length),
      mimeType: 'text/plain',
      etag: md5hex(data),
      operation: 'PostObject',
      who: 'a browser user',
    });
    await page.waitForLoadState();
    const shown = await page.evaluate(() => document.body.textContent);
    assert.match(shown, /"from":"receiver"/);
    await page.screenshot({ path: join(ARTIFACTS, 'postobject-callback.png') });
    await assertStored('browser/cb.txt', data);
    await page.close();
  } finally {
    await receiver.close();
  }
});

test('a form whose policy does not allow the key is refused (403)', async () => {
  const page = await browser.newPage();
  const fields = baseFields().map(([k, v]) => (k === 'key' ? [k, 'elsewhere/${filename}'] : [k, v]));
  const resp = await submit(page, fields, { name: 'no.txt', mimeType: 'text/plain', buffer: Buffer.from('no') });
  assert.equal(resp.status(), 403);
  assert.match(await resp.text(), /<Code>AccessDenied<\/Code>/);
  const got = await ossd.request('GET', bucket, 'elsewhere/no.txt');
  assert.equal(got.status, 404);
  await page.close();
});
