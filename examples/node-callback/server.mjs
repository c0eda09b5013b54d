// A minimal application server for uploads with callbacks, in plain Node (no dependencies):
//
//   GET  /             an HTML form that uploads one file straight to ossd (PostObject), with the
//                      policy signed here and a callback to this server;
//   GET  /post-policy  the same form fields as JSON {url, fields}, for scripts and tests;
//   POST /callback     the upload-callback receiver: verifies the RSA-MD5 signature with
//                      node:crypto and answers {"Status":"OK", ...} (400 when it does not verify);
//   GET  /callbacks    the verified callbacks received so far.
//
// Settings (environment):
//   OSSD_ENDPOINT   ossd's URL [http://127.0.0.1:9000]
//   OSSD_ACCESS_KEY_ID / OSSD_ACCESS_KEY_SECRET   the root key [default: OSSD_DATA/credentials.json,
//                   which ossd writes on first start]
//   OSSD_DATA       ossd's data directory [<repo>/ossd-data]
//   BUCKET          [node-callback]       HOST / PORT   where this server listens [127.0.0.1 / 8081]
import { createHash, createHmac, createVerify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const OSSD = (env.OSSD_ENDPOINT || 'http://127.0.0.1:9000').replace(/\/+$/, '');
const BUCKET = env.BUCKET || 'node-callback';
const HOST = env.HOST || '127.0.0.1';
const PORT = Number(env.PORT ?? 8081);

function rootKey() {
  if (env.OSSD_ACCESS_KEY_ID && env.OSSD_ACCESS_KEY_SECRET) {
    return { id: env.OSSD_ACCESS_KEY_ID, secret: env.OSSD_ACCESS_KEY_SECRET };
  }
  const file = join(env.OSSD_DATA ? resolve(env.OSSD_DATA) : resolve(here, '../../ossd-data'), 'credentials.json');
  if (!existsSync(file)) throw new Error(`start ossd first (it writes its key pair to ${file}) or set OSSD_ACCESS_KEY_*`);
  const c = JSON.parse(readFileSync(file, 'utf8'));
  return { id: c.access_key_id, secret: c.access_key_secret };
}
const KEY = rootKey();

// --- talking to ossd: one V1-signed request (PutBucket at start) ----------------------------
async function putBucket() {
  const date = new Date().toUTCString();
  const sig = createHmac('sha1', KEY.secret).update(`PUT\n\n\n${date}\n/${BUCKET}/`).digest('base64');
  const r = await fetch(`${OSSD}/${BUCKET}/`, { method: 'PUT', headers: { date, authorization: `OSS ${KEY.id}:${sig}` } });
  const text = await r.text();
  if (r.status !== 200 && !text.includes('BucketAlreadyExists')) throw new Error(`PutBucket: ${r.status} ${text}`);
}

// --- the PostObject policy, with a callback to this server ----------------------------------
let selfUrl = '';
function postForm(key) {
  const callback = Buffer.from(JSON.stringify({
    callbackUrl: `${selfUrl}/callback`,
    callbackBody: 'bucket=${bucket}&object=${object}&size=${size}&mimeType=${mimeType}&note=${x:note}',
    callbackBodyType: 'application/x-www-form-urlencoded',
  })).toString('base64');
  const expiration = new Date(Date.now() + 10 * 60 * 1000).toISOString();
  const policy = Buffer.from(JSON.stringify({
    expiration,
    conditions: [{ bucket: BUCKET }, ['eq', '$key', key], ['content-length-range', 0, 10 * 1024 * 1024], { callback }],
  })).toString('base64');
  const signature = createHmac('sha1', KEY.secret).update(policy).digest('base64');
  return {
    url: `${OSSD}/${BUCKET}/`,
    fields: { key, policy, OSSAccessKeyId: KEY.id, Signature: signature, callback, 'x:note': 'from node-callback' },
  };
}

// --- the receiver: verify as OSS documents it -----------------------------------------------
const keyCache = new Map();
async function publicKey(url) {
  // Trust only the key of the ossd we talk to: anyone can sign with a key of their own.
  if (!url.startsWith(`${OSSD}/`)) throw new Error(`untrusted public key URL ${url}`);
  if (!keyCache.has(url)) {
    const r = await fetch(url);
    if (r.status !== 200) throw new Error(`public key: ${r.status}`);
    keyCache.set(url, await r.text());
  }
  return keyCache.get(url);
}

// string to sign: percent-decoded path + raw "?query" (if any) + "\n" + raw body.
function stringToSign(target, body) {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const decoded = Buffer.from(decodeURIComponent(path), 'utf8');
  const query = q < 0 ? Buffer.alloc(0) : Buffer.from(target.slice(q), 'latin1');
  return Buffer.concat([decoded, query, Buffer.from('\n'), body]);
}

async function verify(req, body) {
  const keyUrl = Buffer.from(String(req.headers['x-oss-pub-key-url'] || ''), 'base64').toString();
  const pem = await publicKey(keyUrl);
  const signature = Buffer.from(String(req.headers.authorization || ''), 'base64');
  return createVerify('RSA-MD5').update(stringToSign(req.url, body)).verify(pem, signature);
}

const received = [];

function readBody(req) {
  return new Promise((ok, fail) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function page() {
  const key = `uploads/${createHash('md5').update(String(Date.now())).digest('hex').slice(0, 8)}.bin`;
  const { url, fields } = postForm(key);
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('\n');
  return `<!doctype html><title>node-callback</title>
<form method="post" action="${url}" enctype="multipart/form-data">
${inputs}
<input type="file" name="file" required> <button>Upload</button>
</form><p>The answer you get is this server's reply to ossd's callback.</p>`;
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/') return send(res, 200, 'text/html; charset=utf-8', page());
    if (req.method === 'GET' && req.url.startsWith('/post-policy')) {
      const key = new URL(req.url, selfUrl).searchParams.get('key') || 'uploads/file.bin';
      return send(res, 200, 'application/json', JSON.stringify(postForm(key)));
    }
    if (req.method === 'GET' && req.url === '/callbacks') return send(res, 200, 'application/json', JSON.stringify(received));
    if (req.method === 'POST' && req.url.startsWith('/callback')) {
      const body = await readBody(req);
      let ok = false;
      try {
        ok = await verify(req, body);
      } catch (e) {
        console.error(`callback not verified: ${e.message}`);
      }
      if (!ok) return send(res, 400, 'application/json', '{"Status":"BadSignature"}');
      const vars = Object.fromEntries(new URLSearchParams(body.toString()));
      received.push(vars);
      console.log(`callback verified: ${vars.object} (${vars.size} bytes)`);
      return send(res, 200, 'application/json', JSON.stringify({ Status: 'OK', verified: true, object: vars.object }));
    }
    send(res, 404, 'text/plain', 'not found');
  } catch (e) {
    send(res, 500, 'text/plain', String(e));
  }
});

await putBucket();
server.listen(PORT, HOST, () => {
  selfUrl = `http://${HOST}:${server.address().port}`;
  console.log(`node-callback listening on ${selfUrl}`);
});
