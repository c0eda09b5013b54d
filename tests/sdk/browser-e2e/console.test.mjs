// The web console (/_ossd/console/) in Debian Chromium against a real ossd: sign in with the
// keyboard, create a bucket, edit its CORS rules, upload with progress (multipart for the large
// file), see the object and its details, copy a presigned URL, delete; find an upload whose
// callback failed in the callback log, read its detail and replay it once the receiver is up.
// Then the same console over HTTPS. Screenshots: test-artifacts/console-*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, Ossd, REPO_ROOT, deadPort } from './helpers.mjs';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const BUCKET = 'console-e2e';
const WAIT = { timeout: 30000 };

let ossd;
let browser;
let page;
let admin;
const dialogs = [];

const md5 = buf => createHash('md5').update(buf).digest('hex');
const shot = name => page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });

// The view of the current hash is rendered: a click that changes the hash renders on the later
// hashchange, so data-ready alone may still describe the previous view.
async function ready() {
  await page.waitForFunction(() => document.body.dataset.ready === 'true' && document.body.dataset.route === location.hash, null, WAIT);
}

// Navigates inside the console (the same hash again re-renders the view).
async function go(hash) {
  await page.evaluate(h => {
    document.body.dataset.ready = 'false';
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await ready();
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ossd = new Ossd();
  await ossd.start({ extraArgs: ['--callback-timeout-ms', '1500'] });
  admin = new OSS({
    endpoint: `http://${ossd.addr}`, region: 'oss-cn-hangzhou', accessKeyId: ossd.ak, accessKeySecret: ossd.sk,
    bucket: BUCKET, retryMax: 0,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('dialog', d => { dialogs.push(d.message()); d.accept(); });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (ossd) {
    await ossd.stop();
    ossd.cleanup();
  }
});

describe('web console', () => {
  test('is served by ossd, self-contained, and signs in with the keyboard', async () => {
    const index = await fetch(`http://${ossd.addr}/_ossd/console/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy'), /default-src 'self'/);
    const html = await index.text();
    assert.doesNotMatch(html, /https?:\/\/(?!127)/, 'no external URLs');
    // The JSON API wants a signed root request.
    const anon = await fetch(`http://${ossd.addr}/_ossd/api/callbacks`);
    assert.equal(anon.status, 403);

    await page.goto(`http://${ossd.addr}/_ossd/console/`);
    await page.waitForSelector('#sign-in:not([hidden])', WAIT);
    await shot('sign-in');
    // A wrong secret is refused by the server.
    await page.focus('#ak');
    await page.keyboard.type(ossd.ak);
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong-secret');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#status').textContent.includes('SignatureDoesNotMatch'), null, WAIT);
    await page.fill('#sk', '');
    await page.focus('#sk');
    await page.keyboard.type(ossd.sk);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#nav:not([hidden])', WAIT);
    await ready();
    const stored = await page.evaluate(() => Object.keys(sessionStorage));
    assert.deepEqual(stored, ['ossd-console-credentials']);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  });

  test('creates a bucket with an ACL and edits its CORS rules', async () => {
    await page.fill('#bucket-name', BUCKET);
    await page.selectOption('#bucket-acl', 'public-read');
    await page.click('#create-bucket button[type=submit]');
    await page.waitForSelector(`a[href="#/b/${BUCKET}/"]`, WAIT);
    assert.equal((await admin.getBucketACL(BUCKET)).acl, 'public-read');
    await page.fill('#bucket-name', 'console-empty');
    await page.click('#create-bucket button[type=submit]');
    await page.waitForSelector('a[href="#/b/console-empty/"]', WAIT);
    await shot('buckets');

    await go(`#/cors/${BUCKET}`);
    const xml = '<CORSConfiguration><CORSRule><AllowedOrigin>https://console.example</AllowedOrigin>'
      + '<AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>';
    await page.fill('#cors-xml', xml);
    await page.click('text=Save rules');
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Saved the CORS rules'), null, WAIT);
    const rules = (await admin.getBucketCORS(BUCKET)).rules;
    assert.equal(rules[0].allowedOrigin, 'https://console.example');
    await go(`#/cors/${BUCKET}`);
    assert.match(await page.inputValue('#cors-xml'), /console\.example/);
    await shot('cors');

    await go('#/buckets');
    await page.click('button[aria-label="Delete bucket console-empty"]');
    await page.waitForFunction(() => !document.querySelector('a[href="#/b/console-empty/"]'), null, WAIT);
    assert.ok(dialogs.some(m => m.includes('console-empty')));
  });

  test('uploads with a progress bar (multipart for a large file), browses folders, shows details', async () => {
    await go(`#/b/${BUCKET}/`);
    const big = randomBytes(6 * 1024 * 1024 + 12345);
    const small = Buffer.from('hello from the console\n');
    // Record every value the progress bars take.
    await page.evaluate(() => {
      window.progressSeen = [];
      new MutationObserver(records => {
        for (const r of records) if (r.target.tagName === 'PROGRESS') window.progressSeen.push(Number(r.target.getAttribute('value')));
      }).observe(document.querySelector('#uploads'), { attributes: true, subtree: true, attributeFilter: ['value'] });
    });
    await page.setInputFiles('#upload-file', [
      { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
      { name: 'hello.txt', mimeType: 'text/plain', buffer: small },
    ]);
    await page.click('#upload-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Uploaded'), null, { timeout: 120000 });
    const seen = await page.evaluate(() => window.progressSeen);
    const bigSeen = seen.filter(v => v > 0 && v <= 6 * 1024 * 1024 + 12345);
    assert.ok(bigSeen.length >= 7, `progress moved in steps: ${seen.length} values`);
    assert.ok(bigSeen.some(v => v > 1024 * 1024 && v < 6 * 1024 * 1024), 'intermediate progress seen');
    assert.equal(md5((await admin.get('big.bin')).content), md5(big));
    assert.equal((await admin.head('big.bin')).res.headers['x-oss-object-type'], 'Multipart');
    assert.equal((await admin.get('hello.txt')).content.toString(), small.toString());

    // Download: a presigned GET with Content-Disposition: attachment.
    const [dl] = await Promise.all([page.waitForEvent('download', WAIT), page.click('button[aria-label="Download hello.txt"]')]);
    assert.equal(dl.suggestedFilename(), 'hello.txt');
    assert.equal(readFileSync(await dl.path()).toString(), small.toString());

    // Folders: an object under a prefix shows as a folder.
    await admin.put('docs/2026/report.txt', Buffer.from('report'), { headers: { 'x-oss-meta-owner': 'qa' } });
    await admin.putObjectTagging('docs/2026/report.txt', { team: 'storage' });
    await go(`#/b/${BUCKET}/`);
    await page.waitForSelector('text=big.bin', WAIT);
    await shot('objects');
    await page.click('a:text("docs/")');
    await ready();
    await page.click('a:text("2026/")');
    await ready();
    await page.click('button[aria-label="Details of docs/2026/report.txt"]');
    await page.waitForSelector('#object-tags', WAIT);
    const meta = await page.textContent('#object-meta');
    assert.match(meta, /x-oss-meta-owner\s*qa/);
    assert.match(await page.textContent('#object-tags'), /team\s*storage/);
    await shot('object-details');

    await page.click('button[aria-label="Copy a presigned URL of docs/2026/report.txt"]');
    const url = await page.inputValue('#presigned-url');
    const fetched = await fetch(url);
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), 'report');

    await page.click('button[aria-label="Delete docs/2026/report.txt"]');
    await page.waitForFunction(() => !document.querySelector('button[aria-label="Delete docs/2026/report.txt"]'), null, WAIT);
    await assert.rejects(admin.head('docs/2026/report.txt'), e => e.status === 404);
  });

  test('a failed callback is in the log with its detail, and replays once the receiver is up', async () => {
    const port = await deadPort();
    const cbUrl = `http://127.0.0.1:${port}/callback`;
    let requestId;
    try {
      await admin.put('with-callback.txt', Buffer.from('cb'), {
        callback: { url: cbUrl, body: 'bucket=${bucket}&object=${object}', contentType: 'application/x-www-form-urlencoded' },
      });
      assert.fail('the callback should have failed');
    } catch (e) {
      assert.equal(e.status, 203, e.message);
      requestId = e.requestId;
    }
    assert.ok(requestId);

    await go(`#/callbacks?bucket=${BUCKET}&outcome=203`);
    await page.waitForSelector(`a[aria-label="Details of ${requestId}"]`, WAIT);
    assert.equal(await page.inputValue('#filter-outcome'), '203');
    await shot('callbacks');
    // Filters: a 200-only view does not list it.
    await page.selectOption('#filter-outcome', '200');
    await page.click('#callback-filters button[type=submit]');
    await ready();
    assert.equal(await page.$(`a[aria-label="Details of ${requestId}"]`), null);

    await go(`#/callback/${requestId}`);
    assert.equal(await page.textContent('#callback-outcome'), '203');
    assert.match(await page.textContent('#callback-hints'), /Nothing answered at/);
    assert.match(await page.textContent('#callback-body'), /bucket=console-e2e&object=with-callback.txt/);
    assert.match(await page.textContent('#callback-detail'), new RegExp(`127\\.0\\.0\\.1:${port}/callback`));
    await shot('callback-failed');

    const received = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', d => { body += d; });
      req.on('end', () => {
        received.push({ body, headers: req.headers });
        const answer = '{"Status":"OK","replayed":true}';
        // OSS wants a Content-Length on the receiver's answer (no chunked encoding).
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    await new Promise(r => receiver.listen(port, '127.0.0.1', r));
    try {
      await page.click('#replay');
      await page.waitForFunction(() => document.querySelector('#callback-outcome')?.textContent === '200', null, WAIT)
        .catch(async e => { throw new Error(`${e.message}; status: ${await page.textContent('#status')}`); });
      assert.match(await page.textContent('#callback-answer'), /"replayed":true/);
      assert.equal(received.length, 1);
      assert.equal(received[0].body, 'bucket=console-e2e&object=with-callback.txt');
      assert.ok(received[0].headers.authorization, 'the replay is signed');
      await shot('callback-replayed');
    } finally {
      receiver.close();
    }
    await go(`#/callbacks?bucket=${BUCKET}&outcome=200`);
    await page.waitForSelector(`a[aria-label="Details of ${requestId}"]`, WAIT);
    // Time filter (UTC): a window that ends before the upload hides it.
    const utc = ms => new Date(ms).toISOString().slice(0, 16);
    await go(`#/callbacks?bucket=${BUCKET}&until=${utc(Date.now() - 3600e3)}`);
    assert.equal(await page.$(`a[aria-label="Details of ${requestId}"]`), null);
    await go(`#/callbacks?bucket=${BUCKET}&since=${utc(Date.now() - 3600e3)}`);
    await page.waitForSelector(`a[aria-label="Details of ${requestId}"]`, WAIT);
  });

  test('is readable on a narrow window', async () => {
    await page.setViewportSize({ width: 380, height: 800 });
    await go(`#/b/${BUCKET}/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling (${overflow}px)`);
    await shot('narrow');
    await page.setViewportSize({ width: 1100, height: 900 });
  });
});

describe('web console over HTTPS', () => {
  let tls;
  let tmp;
  let certPath;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ossd-console-tls-'));
    const [cert, key] = [join(tmp, 'cert.pem'), join(tmp, 'key.pem')];
    certPath = cert;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    tls = new Ossd();
    await tls.start({ extraArgs: ['--tls-cert', cert, '--tls-key', key] });
  });
  after(async () => {
    if (tls) {
      await tls.stop();
      tls.cleanup();
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('ali-oss over https with the certificate trusted (NODE_EXTRA_CA_CERTS)', () => {
    // A child process: Node reads NODE_EXTRA_CA_CERTS only at start.
    const script = `
      import OSS from 'ali-oss';
      // localhost + sldEnable (path style): ali-oss checks the certificate against the Host it sends.
      const c = new OSS({ endpoint: 'https://localhost:${tls.port}', sldEnable: true, region: 'oss-cn-hangzhou',
        accessKeyId: process.env.AK, accessKeySecret: process.env.SK, bucket: 'ali-oss-tls', retryMax: 0 });
      await c.putBucket('ali-oss-tls');
      await c.put('k.txt', Buffer.from('tls via ali-oss'));
      const got = await c.get('k.txt');
      const url = c.signatureUrl('k.txt', { expires: 60 });
      process.stdout.write(JSON.stringify({ body: got.content.toString(), url }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('.', import.meta.url).pathname,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath, AK: tls.ak, SK: tls.sk },
    });
    const { body, url } = JSON.parse(out.toString());
    assert.equal(body, 'tls via ali-oss');
    assert.match(url, /^https:\/\/localhost:/);
  });

  test('signs in and lists buckets on an https origin', async () => {
    assert.equal(tls.scheme, 'https');
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const p = await context.newPage();
      await p.goto(`https://localhost:${tls.port}/_ossd/console/`);
      await p.fill('#ak', tls.ak);
      await p.fill('#sk', tls.sk);
      await p.click('#sign-in-form button[type=submit]');
      await p.waitForSelector('#create-bucket', WAIT);
      await p.fill('#bucket-name', 'over-https');
      await p.click('#create-bucket button[type=submit]');
      await p.waitForSelector('a[href="#/b/over-https/"]', WAIT);
      assert.equal(await p.evaluate(() => location.protocol), 'https:');
      await p.screenshot({ path: join(ARTIFACTS, 'console-https.png') });
    } finally {
      await context.close();
    }
  });
});
