// examples/browser-upload end to end: a real ossd (the example's ossd.toml, with its role), the
// example's app server on another loopback origin, and Debian Chromium clicking the page's buttons.
// Nothing is mocked: ali-oss's browser bundle talks to ossd across origins (real CORS preflights),
// ossd POSTs signed callbacks to the app server, which verifies them with RSA-MD5.
//
//   cd tests/sdk/browser-e2e && npm ci && node --test
import assert from 'node:assert/strict';
import { createHash, createVerify, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';
import { chromium } from 'playwright-core';
import {
  AppServer,
  CHROMIUM,
  CHROMIUM_ARGS,
  EXAMPLE_DIR,
  OSSD_BIN,
  Ossd,
  REPO_ROOT,
  deadPort,
} from './helpers.mjs';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'browser-upload.png');
// The bucket the role in ossd.toml grants (the data directory is fresh).
const BUCKET = 'browser-upload';
// `sts` (the example's default) or `root`.
const CREDENTIALS = process.env.E2E_CREDENTIALS || 'sts';
const WAIT = { timeout: 30000 };

let ossd;
let app;
let context;
let page;
let userDataDir;
let admin; // ali-oss (Node) with the root key: reads back what the browser stored
const requests = []; // every request the page made: {method, url, headers, response}
const preflights = new Map(); // CDP requestId -> {url, method, requestHeaders, status, headers}

function md5hex(buf) {
  return createHash('md5').update(buf).digest('hex').toUpperCase();
}

async function storedBytes(key) {
  const r = await admin.get(key);
  return r.content;
}

async function callbacks() {
  const res = await fetch(`${app.origin}/callbacks`);
  assert.equal(res.status, 200);
  return res.json();
}

async function callbackFor(key, operation) {
  const all = await callbacks();
  const hits = all.filter(c => c.vars.object === key && c.vars.operation === operation);
  assert.equal(hits.length, 1, `one verified ${operation} callback for ${key}, got ${JSON.stringify(all.map(c => c.vars))}`);
  return hits[0];
}

// Checks a recorded callback's signature again, here, independently of the app server.
async function assertSignedByOssd(cb) {
  const keyUrl = Buffer.from(cb.headers['x-oss-pub-key-url'], 'base64').toString();
  assert.equal(keyUrl, `http://${ossd.addr}/_ossd/callback_pub_key.pem`);
  const pem = await (await fetch(keyUrl)).text();
  const q = cb.path.indexOf('?');
  const head = q < 0 ? decodeURIComponent(cb.path) : `${decodeURIComponent(cb.path.slice(0, q))}${cb.path.slice(q)}`;
  const ok = createVerify('RSA-MD5')
    .update(Buffer.concat([Buffer.from(`${head}\n`), Buffer.from(cb.rawBody, 'base64')]))
    .verify(pem, cb.headers.authorization, 'base64');
  assert.ok(ok, 'the recorded callback verifies with ossd key');
}

async function waitForStatus(id) {
  await page.waitForFunction(
    sel => {
      const t = document.getElementById(sel).textContent;
      return t && !t.endsWith('...');
    },
    id,
    WAIT,
  );
  return page.textContent(`#${id}`);
}

async function pageJson(id) {
  return JSON.parse(await page.textContent(`#${id}`));
}

// The page's requests so far, each with its response recorded (Playwright reports them
// asynchronously, possibly after the page has moved on).
async function settledRequests() {
  let timer;
  const limit = new Promise(r => {
    timer = setTimeout(r, 10000);
  });
  await Promise.race([Promise.all(requests.map(r => r.done)), limit]);
  clearTimeout(timer);
  return requests;
}

async function ossdRequests(method, keyPart) {
  const all = await settledRequests();
  return all.filter(r => r.method === method && r.url.includes(`:${ossd.port}/`) && r.url.includes(keyPart));
}

function ossdPreflights(keyPart) {
  return [...preflights.values()].filter(p => p.url.includes(`:${ossd.port}/`) && p.url.includes(keyPart));
}

async function chooseFile(inputId, name, bytes, mimeType = 'application/octet-stream') {
  await page.setInputFiles(`#${inputId}`, { name, mimeType, buffer: bytes });
}

// ------------------------------------------------------------------------------ setup ---

before(async () => {
  assert.ok(existsSync(OSSD_BIN), `ossd binary missing at ${OSSD_BIN}: cargo build -p ossd`);
  assert.ok(existsSync(CHROMIUM), `chromium missing at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });

  ossd = new Ossd();
  await ossd.start({
    config: join(EXAMPLE_DIR, 'ossd.toml'),
    extraArgs: ['--callback-timeout-ms', '2000'],
  });
  const ossdEndpoint = `http://localhost:${ossd.port}`;

  app = new AppServer();
  await app.start({
    OSSD_ENDPOINT: ossdEndpoint,
    OSSD_ACCESS_KEY_ID: ossd.ak,
    OSSD_ACCESS_KEY_SECRET: ossd.sk,
    BUCKET,
    CREDENTIALS,
  });

  admin = new OSS({
    endpoint: ossdEndpoint,
    sldEnable: true,
    region: 'oss-cn-hangzhou',
    accessKeyId: ossd.ak,
    accessKeySecret: ossd.sk,
    bucket: BUCKET,
    retryMax: 0,
  });

  userDataDir = mkdtempSync(join(tmpdir(), 'ossd-browser-e2e-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, '--disable-dev-shm-usage'],
    viewport: { width: 1000, height: 1100 },
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('request', req => {
    const entry = { method: req.method(), url: req.url(), headers: req.headers(), response: null };
    // Settles once the response (with all its headers) is known; see settledRequests().
    entry.done = req
      .response()
      .then(async res => {
        if (res) entry.response = { status: res.status(), headers: await res.allHeaders() };
      })
      .catch(() => {});
    requests.push(entry);
  });
  // Playwright does not report CORS preflights as page requests; the DevTools protocol does.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', e => {
    if (e.request.method === 'OPTIONS') {
      preflights.set(e.requestId, { url: e.request.url, requestHeaders: e.request.headers, status: null, headers: null });
    }
  });
  cdp.on('Network.responseReceived', e => {
    const p = preflights.get(e.requestId);
    if (p) Object.assign(p, { status: e.response.status, headers: e.response.headers, type: e.type });
  });

  await page.goto(`${app.origin}/`);
  await page.waitForSelector('body[data-ready=true]', WAIT);
});

after(async () => {
  if (page && !existsSync(SCREENSHOT)) await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
  if (context) await context.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (app) await app.stop();
  if (ossd) {
    await ossd.stop();
    ossd.cleanup();
  }
});

// ------------------------------------------------------------------------------ tests ---

describe('browser upload page against ossd', () => {
  test('the page and ossd are on different origins; the page gets temporary credentials', async () => {
    const pageOrigin = new URL(page.url()).origin;
    assert.equal(pageOrigin, app.origin);
    const endpoint = await page.inputValue('#endpoint');
    assert.equal(endpoint, `http://localhost:${ossd.port}`);
    const creds = await (await fetch(`${app.origin}/sts`)).json();
    if (CREDENTIALS === 'sts') {
      assert.ok(creds.SecurityToken, 'STS answered a security token');
      assert.notEqual(creds.AccessKeyId, ossd.ak, 'the page never sees the root key');
      assert.match(creds.Expiration, /^\d{4}-\d\d-\d\dT/);
    }
  });

  test('client.put with a callback: verified callback, receiver JSON on the page, bytes stored, CORS preflight', async () => {
    const bytes = randomBytes(200 * 1024 + 17);
    const name = `photo-${randomBytes(4).toString('hex')}.bin`;
    const key = `uploads/${name}`;
    await chooseFile('put-file', name, bytes);
    await page.click('#put-btn');
    const status = await waitForStatus('put-status');
    assert.equal(status, `uploaded ${key} (HTTP 200)`, `page error: ${await page.textContent('#put-error')}`);

    // The receiver's JSON, as ali-oss handed it to the page (result.data).
    const shown = await pageJson('put-result');
    assert.equal(shown.Status, 'OK');
    assert.equal(shown.verified, true);
    assert.equal(shown.bucket, BUCKET);
    assert.equal(shown.object, key);
    assert.equal(shown.size, bytes.length);
    assert.equal(shown.etag, md5hex(bytes));
    assert.equal(shown.operation, 'PutObject');
    assert.equal(shown.note, 'hello from the browser');

    // The app server received and verified it; check the signature again here.
    const cb = await callbackFor(key, 'PutObject');
    await assertSignedByOssd(cb);

    // The bytes are in the bucket.
    assert.ok((await storedBytes(key)).equals(bytes), 'stored bytes equal the chosen file');

    // The PUT went cross-origin to virtual-hosted bucket.localhost, after a preflight that ossd
    // answered from the bucket's CORS rule.
    const puts = await ossdRequests('PUT', key);
    assert.equal(puts.length, 1);
    assert.equal(new URL(puts[0].url).host, `${BUCKET}.localhost:${ossd.port}`);
    assert.ok(puts[0].headers['x-oss-callback'], 'the PUT carries x-oss-callback');
    if (CREDENTIALS === 'sts') assert.ok(puts[0].headers['x-oss-security-token'], 'the PUT carries the STS token');
    assert.equal(puts[0].response.status, 200);
    assert.equal(puts[0].response.headers['access-control-allow-origin'], app.origin);
    assert.match(puts[0].response.headers['access-control-expose-headers'], /ETag/i);

    const pre = ossdPreflights(key);
    assert.equal(pre.length, 1, `one preflight for ${key}: ${JSON.stringify(pre)}`);
    const h = pre[0].headers;
    assert.equal(pre[0].status, 200);
    assert.equal(h['access-control-allow-origin'] || h['Access-Control-Allow-Origin'], app.origin);
    assert.match(h['access-control-allow-methods'] || h['Access-Control-Allow-Methods'], /PUT/);
    assert.match(h['access-control-allow-headers'] || h['Access-Control-Allow-Headers'], /x-oss-callback/i);
    assert.equal(pre[0].requestHeaders.Origin || pre[0].requestHeaders.origin, app.origin);
  });

  test('path style (sldEnable: true) works from the page too', async () => {
    await page.check('#sld-enable');
    try {
      const bytes = randomBytes(3000);
      const name = `path-style-${randomBytes(4).toString('hex')}.txt`;
      const key = `uploads/${name}`;
      await chooseFile('put-file', name, bytes, 'text/plain');
      await page.click('#put-btn');
      assert.equal(await waitForStatus('put-status'), `uploaded ${key} (HTTP 200)`, await page.textContent('#put-error'));
      const shown = await pageJson('put-result');
      assert.equal(shown.object, key);
      assert.equal(shown.verified, true);
      const puts = await ossdRequests('PUT', key);
      assert.equal(puts.length, 1);
      assert.equal(new URL(puts[0].url).host, `localhost:${ossd.port}`);
      assert.equal(new URL(puts[0].url).pathname, `/${BUCKET}/${key}`);
      assert.ok((await storedBytes(key)).equals(bytes));
      await assertSignedByOssd(await callbackFor(key, 'PutObject'));
    } finally {
      await page.uncheck('#sld-enable');
    }
  });

  test('PostObject from the form: signed policy from the app server, callback JSON on the page', async () => {
    const bytes = randomBytes(64 * 1024 + 3);
    const name = `form-${randomBytes(4).toString('hex')}.bin`;
    const key = `uploads/${name}`;
    await chooseFile('post-file', name, bytes);
    await page.click('#post-btn');
    assert.equal(await waitForStatus('post-status'), 'HTTP 200', await page.textContent('#post-result'));
    const shown = await pageJson('post-result');
    assert.equal(shown.Status, 'OK');
    assert.equal(shown.verified, true);
    assert.equal(shown.object, key);
    assert.equal(shown.size, bytes.length);
    assert.equal(shown.operation, 'PostObject');
    assert.equal(shown.note, 'hello from the browser');

    // The form carried the policy fields (with the STS token) and went to the bucket's host.
    const posts = (await settledRequests()).filter(r => r.method === 'POST' && r.url.startsWith(`http://${BUCKET}.localhost:${ossd.port}/`));
    assert.equal(posts.length, 1);
    assert.match(posts[0].headers['content-type'], /^multipart\/form-data; boundary=/);
    assert.equal(posts[0].response.headers['access-control-allow-origin'], app.origin);
    const fields = await page.$$eval('#post-fields input', els => Object.fromEntries(els.map(e => [e.name, e.value])));
    for (const f of ['key', 'policy', 'OSSAccessKeyId', 'Signature', 'callback']) assert.ok(fields[f], `form field ${f}`);
    assert.equal(fields.key, key);
    if (CREDENTIALS === 'sts') assert.ok(fields['x-oss-security-token'], 'the form carries x-oss-security-token');

    await assertSignedByOssd(await callbackFor(key, 'PostObject'));
    assert.ok((await storedBytes(key)).equals(bytes));
  });

  test('client.multipartUpload: increasing progress on the page, callback after CompleteMultipartUpload', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 12345);
    const name = `big-${randomBytes(4).toString('hex')}.bin`;
    const key = `uploads/${name}`;
    await chooseFile('mp-file', name, bytes);
    await page.click('#mp-btn');
    assert.equal(await waitForStatus('mp-status'), `uploaded ${key} (HTTP 200)`, await page.textContent('#mp-result'));

    const progress = await page.evaluate(() => window.mpProgress);
    const parts = Math.ceil(bytes.length / (100 * 1024));
    assert.ok(progress.length >= parts, `${progress.length} progress events for ${parts} parts`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i] >= progress[i - 1], `progress never goes back: ${progress.join(', ')}`);
    }
    assert.equal(progress[0], 0);
    assert.equal(progress.at(-1), 1);
    assert.ok(new Set(progress).size >= 10, 'progress moved in many steps');
    assert.equal(await page.getAttribute('#mp-progress', 'value'), '1');
    assert.equal(await page.textContent('#mp-percent'), '100%');
    assert.equal(await page.textContent('#mp-events'), String(progress.length));

    const shown = await pageJson('mp-result');
    assert.equal(shown.Status, 'OK');
    assert.equal(shown.verified, true);
    assert.equal(shown.object, key);
    assert.equal(shown.size, bytes.length);
    assert.equal(shown.operation, 'CompleteMultipartUpload');

    const uploads = await ossdRequests('PUT', key);
    assert.equal(uploads.length, parts, 'one UploadPart per 100 KiB part');
    for (const u of uploads) {
      assert.equal(u.response?.status, 200);
      assert.ok(u.response.headers.etag, 'the part ETag reached the page (ExposeHeader ETag)');
    }
    assert.ok(ossdPreflights(key).length >= 1, 'the part uploads were preflighted');

    await assertSignedByOssd(await callbackFor(key, 'CompleteMultipartUpload'));
    const stored = await storedBytes(key);
    assert.equal(stored.length, bytes.length);
    assert.ok(stored.equals(bytes), 'the multipart object has the file bytes');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  test('callback receiver down: the page shows CallbackFailedError (203) and the object is stored', async () => {
    const before = (await callbacks()).length;
    const port = await deadPort();
    const original = await page.inputValue('#callback-url');
    await page.fill('#callback-url', `http://127.0.0.1:${port}/callback`);
    try {
      const bytes = randomBytes(5000);
      const name = `orphan-${randomBytes(4).toString('hex')}.bin`;
      const key = `uploads/${name}`;
      await chooseFile('put-file', name, bytes);
      await page.click('#put-btn');
      assert.equal(await waitForStatus('put-status'), 'CallbackFailedError (status 203)');
      const err = await pageJson('put-error');
      assert.equal(err.name, 'CallbackFailedError');
      assert.equal(err.status, 203);
      assert.equal(err.code, 'CallbackFailed');
      assert.ok(err.requestId, 'the error carries the request id');
      assert.ok((await storedBytes(key)).equals(bytes), 'the object is stored although the callback failed');
      assert.equal((await callbacks()).length, before, 'nothing reached the app server');
      const puts = await ossdRequests('PUT', key);
      assert.equal(puts[0].response.status, 203);
      assert.equal(puts[0].response.headers['access-control-allow-origin'], app.origin, 'CORS headers on the 203');
      await page.screenshot({ path: join(ARTIFACTS, 'browser-upload-callback-failed.png'), fullPage: true });
    } finally {
      await page.fill('#callback-url', original);
    }
  });

  test('the temporary credentials only reach uploads/: the page gets AccessDenied, nothing stored', async t => {
    if (CREDENTIALS !== 'sts') return t.skip('root credentials');
    const got = await page.evaluate(async () => {
      const config = await (await fetch('/config')).json();
      const creds = await (await fetch('/sts')).json();
      const client = new OSS({
        region: config.region,
        endpoint: document.getElementById('endpoint').value,
        bucket: config.bucket,
        accessKeyId: creds.AccessKeyId,
        accessKeySecret: creds.AccessKeySecret,
        stsToken: creds.SecurityToken,
      });
      try {
        await client.put('elsewhere/not-allowed.txt', new Blob(['nope']));
        return { stored: true };
      } catch (e) {
        return { name: e.name, status: e.status, code: e.code };
      }
    });
    assert.deepEqual(got, { name: 'AccessDeniedError', status: 403, code: 'AccessDenied' });
    await assert.rejects(admin.head('elsewhere/not-allowed.txt'), e => e.status === 404);
    const puts = await ossdRequests('PUT', 'elsewhere/not-allowed.txt');
    assert.equal(puts[0].response.headers['access-control-allow-origin'], app.origin, 'CORS headers on the 403');
  });

  test('the app server refuses a callback whose signature does not verify', async () => {
    const cb = (await callbacks())[0];
    assert.ok(cb, 'a verified callback was recorded before');
    const tampered = Buffer.from(cb.rawBody, 'base64').toString().replace(/"size":\d+/, '"size":1');
    const res = await fetch(`${app.origin}/callback`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: cb.headers.authorization,
        'x-oss-pub-key-url': cb.headers['x-oss-pub-key-url'],
      },
      body: tampered,
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).verified, false);
    const foreignKey = await fetch(`${app.origin}/callback`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: cb.headers.authorization,
        'x-oss-pub-key-url': Buffer.from('http://gosspublic.alicdn.com/callback_pub_key_v1.pem').toString('base64'),
      },
      body: Buffer.from(cb.rawBody, 'base64'),
    });
    assert.equal(foreignKey.status, 400, 'only ossd key URL is trusted');
  });
});
