// An upload-callback receiver for the ali-oss suites (shared/spec/callback.md sections 3-4).
// It records every request exactly as received and verifies its signature independently:
//   key  = PEM fetched from base64-decode(x-oss-pub-key-url)
//   msg  = percent-decode(path) + ('?' + raw query, if any) + '\n' + raw body
//   RSA PKCS#1 v1.5 with MD5 over msg, signature = base64-decode(authorization)
import { createPublicKey, createVerify } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

const keyCache = new Map();

async function publicKey(url, fresh = false) {
  if (fresh || !keyCache.has(url)) {
    const resp = await fetch(url);
    if (resp.status !== 200) throw new Error(`GET ${url} -> ${resp.status}`);
    keyCache.set(url, createPublicKey(await resp.text()));
  }
  return keyCache.get(url);
}

// Percent-decodes to bytes (no '+' handling: only %XX escapes are decoded).
export function percentDecode(s) {
  const out = [];
  const raw = Buffer.from(s, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 && i + 2 < raw.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(raw[i]);
    }
  }
  return Buffer.from(out);
}

export function stringToSign(target, body) {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const parts = [percentDecode(path)];
  if (query) parts.push(Buffer.from('?' + query, 'latin1'));
  parts.push(Buffer.from('\n'), body);
  return Buffer.concat(parts);
}

export async function verifyCallback(target, headers, body) {
  try {
    const keyUrl = Buffer.from(headers['x-oss-pub-key-url'] || '', 'base64').toString();
    if (!/^https?:\/\//.test(keyUrl)) return { ok: false, keyUrl, error: `bad key url ${keyUrl}` };
    const check = (key) => {
      const v = createVerify('RSA-MD5');
      v.update(stringToSign(target, body));
      return v.verify(key, Buffer.from(headers.authorization || '', 'base64'));
    };
    // The cache is keyed by URL, and a later ossd may listen on a port an earlier one used,
    // with another key: fetch once more before calling it a failure (as after a key rotation).
    const ok = check(await publicKey(keyUrl)) || check(await publicKey(keyUrl, true));
    return { ok, keyUrl, error: ok ? null : 'signature does not verify' };
  } catch (e) {
    return { ok: false, keyUrl: null, error: String(e) };
  }
}

export class Receiver {
  constructor({ status = 200, body = '{"Status":"OK"}', contentType = 'application/json', delay = 0 } = {}) {
    this.status = status;
    this.body = body;
    this.contentType = contentType;
    this.delay = delay;
    this.calls = [];
    this.connections = 0;
    this.waiters = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  async start(port = 0) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  url(path = '/cb') {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const v = await verifyCallback(req.url, req.headers, body);
    const call = {
      method: req.method,
      target: req.url,
      headers: req.headers,
      body,
      verified: v.ok,
      keyUrl: v.keyUrl,
      verifyError: v.error,
      text: () => body.toString('utf8'),
      json: () => JSON.parse(body.toString('utf8')),
      form: () => Object.fromEntries(body.toString('ascii').split('&').map(kv => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), percentDecode(kv.slice(i + 1)).toString('utf8')];
      })),
    };
    this.calls.push(call);
    for (const w of this.waiters.splice(0)) w();
    if (this.delay) await new Promise(r => setTimeout(r, this.delay));
    const payload = Buffer.from(this.body);
    res.writeHead(this.status, {
      'Content-Type': this.contentType,
      'Content-Length': payload.length,
      Connection: 'close',
    });
    res.end(payload);
  }

  async waitCalls(n, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    while (this.calls.length < n) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.calls.length} calls, expected ${n}`);
      await new Promise(r => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.calls;
  }

  async close() {
    this.server.closeAllConnections?.();
    await new Promise(r => this.server.close(r));
  }
}

// A loopback port nobody listens on.
export async function closedPort() {
  const srv = net.createServer();
  await new Promise(r => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise(r => srv.close(r));
  return port;
}
