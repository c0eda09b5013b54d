// The application server of the browser-upload example: what an OSS user runs beside their page.
//
//   - serves the page (index.html, app.js) and ali-oss's browser bundle;
//   - creates the bucket and sets its CORS rules at start (PutBucketCors with the page's origin);
//   - GET  /sts          temporary credentials for the page (STS AssumeRole against ossd);
//   - GET  /post-policy  a signed V1 PostObject policy for the form section;
//   - POST /callback     the upload-callback receiver: verifies ossd's RSA-MD5 signature and answers
//                        {"Status":"OK","verified":true, ...variables} (400 when verification fails);
//   - GET  /callbacks    the verified callbacks received so far (JSON, for tests and curiosity).
//
// Settings (environment):
//   OSSD_ENDPOINT            ossd's URL as the browser and this server reach it [http://localhost:9000]
//   OSSD_ACCESS_KEY_ID/_SECRET  root key pair [default: read OSSD_DATA/credentials.json, which ossd
//                            creates on first start]
//   OSSD_DATA                ossd's data directory, for credentials.json [../../ossd-data]
//   OSSD_CONFIG              ossd's config file, for the role ARN [./ossd.toml]
//   ROLE_ARN                 the role to assume [the first role in OSSD_CONFIG]
//   CREDENTIALS              `sts` (default) or `root` (hand the root key to the page: never in production)
//   BUCKET                   [browser-upload]     REGION [oss-cn-hangzhou]
//   HOST / PORT              where this server listens [127.0.0.1 / 8080; PORT=0 picks a free port]
//   PUBLIC_ORIGIN            the page's origin, for the CORS rule [http://HOST:PORT]
import { createVerify, createHmac } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const OSS = require('ali-oss');

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

const OSSD_ENDPOINT = (env.OSSD_ENDPOINT || 'http://localhost:9000').replace(/\/+$/, '');
const BUCKET = env.BUCKET || 'browser-upload';
const REGION = env.REGION || 'oss-cn-hangzhou';
const HOST = env.HOST || '127.0.0.1';
const PORT = Number(env.PORT ?? 8080);
const CREDENTIALS = env.CREDENTIALS || 'sts';
const OSSD_CONFIG = env.OSSD_CONFIG || join(here, 'ossd.toml');
const UPLOAD_PREFIX = 'uploads/';

if (!['sts', 'root'].includes(CREDENTIALS)) {
  throw new Error(`CREDENTIALS must be sts or root, not ${CREDENTIALS}`);
}

function rootCredentials() {
  if (env.OSSD_ACCESS_KEY_ID && env.OSSD_ACCESS_KEY_SECRET) {
    return { accessKeyId: env.OSSD_ACCESS_KEY_ID, accessKeySecret: env.OSSD_ACCESS_KEY_SECRET };
  }
  const file = join(env.OSSD_DATA ? resolve(env.OSSD_DATA) : resolve(here, '../../ossd-data'), 'credentials.json');
  if (!existsSync(file)) {
    throw new Error(
      `no root credentials: set OSSD_ACCESS_KEY_ID and OSSD_ACCESS_KEY_SECRET, or start ossd first ` +
        `(it keeps its key pair in ${file}; set OSSD_DATA to ossd's data directory)`,
    );
  }
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  return { accessKeyId: stored.access_key_id, accessKeySecret: stored.access_key_secret };
}

// The role to assume: ROLE_ARN, or the first `arn = "..."` in ossd's config file (the example's
// ossd.toml declares exactly one role).
function roleArn() {
  if (env.ROLE_ARN) return env.ROLE_ARN;
  if (!existsSync(OSSD_CONFIG)) return null;
  const m = /^\s*arn\s*=\s*"([^"]+)"/m.exec(readFileSync(OSSD_CONFIG, 'utf8'));
  return m ? m[1] : null;
}

const ROOT = rootCredentials();
const ROLE_ARN = roleArn();
if (CREDENTIALS === 'sts' && !ROLE_ARN) {
  throw new Error(`CREDENTIALS=sts needs a role: set ROLE_ARN or declare one in ${OSSD_CONFIG}`);
}

// This server's own client (root key, path style: Node does not resolve bucket.localhost).
const admin = new OSS({
  endpoint: OSSD_ENDPOINT,
  sldEnable: true,
  region: REGION,
  accessKeyId: ROOT.accessKeyId,
  accessKeySecret: ROOT.accessKeySecret,
  bucket: BUCKET,
});

// What the page may do with its temporary credentials: upload under uploads/ and read it back
// (in RAM, oss:PutObject covers PostObject and the multipart upload calls too). The effective
// permissions are the role's policy AND this session policy.
const SESSION_POLICY = {
  Version: '1',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['oss:PutObject', 'oss:GetObject', 'oss:AbortMultipartUpload', 'oss:ListParts'],
      Resource: [`acs:oss:*:*:${BUCKET}/${UPLOAD_PREFIX}*`],
    },
  ],
};

// Temporary credentials, in the shape STS answers ({AccessKeyId, AccessKeySecret, SecurityToken,
// Expiration}).
async function temporaryCredentials() {
  if (CREDENTIALS === 'root') {
    return {
      AccessKeyId: ROOT.accessKeyId,
      AccessKeySecret: ROOT.accessKeySecret,
      SecurityToken: null,
      Expiration: new Date(Date.now() + 3600e3).toISOString(),
    };
  }
  const sts = new OSS.STS({
    accessKeyId: ROOT.accessKeyId,
    accessKeySecret: ROOT.accessKeySecret,
    endpoint: OSSD_ENDPOINT,
  });
  const { credentials } = await sts.assumeRole(ROLE_ARN, SESSION_POLICY, 3600, 'browser');
  return credentials;
}

// A V1 PostObject policy, signed as Alibaba's "sign on the server, upload from the browser" docs show:
// policy = base64(JSON), Signature = base64(HMAC-SHA1(secret, policy)).
async function postPolicy(query) {
  const creds = await temporaryCredentials();
  const key = query.get('key') || `${UPLOAD_PREFIX}form-${Date.now()}`;
  if (!key.startsWith(UPLOAD_PREFIX)) throw httpError(400, `key must start with ${UPLOAD_PREFIX}`);
  const expiration = new Date(Date.now() + 10 * 60e3).toISOString().replace(/\.\d{3}Z$/, '.000Z');
  const policyDoc = {
    expiration,
    conditions: [
      { bucket: BUCKET },
      ['starts-with', '$key', UPLOAD_PREFIX],
      ['content-length-range', 0, 100 * 1024 * 1024],
    ],
  };
  const policy = Buffer.from(JSON.stringify(policyDoc)).toString('base64');
  const signature = createHmac('sha1', creds.AccessKeySecret).update(policy).digest('base64');
  const fields = {
    key,
    policy,
    OSSAccessKeyId: creds.AccessKeyId,
    Signature: signature,
    success_action_status: '200',
  };
  if (creds.SecurityToken) fields['x-oss-security-token'] = creds.SecurityToken;
  const callbackUrl = query.get('callbackUrl');
  if (callbackUrl) {
    fields.callback = Buffer.from(
      JSON.stringify({
        callbackUrl,
        callbackBody: CALLBACK_BODY,
        callbackBodyType: 'application/json',
      }),
    ).toString('base64');
    fields['x:note'] = query.get('note') || 'posted from a form';
  }
  return { fields };
}

// The callback body the page and the form ask for (OSS renders the JSON values itself).
export const CALLBACK_BODY =
  '{"bucket":${bucket},"object":${object},"etag":${etag},"size":${size},"mimeType":${mimeType},' +
  '"crc64":${crc64},"operation":${operation},"reqId":${reqId},"note":${x:note}}';

// ---------------------------------------------------------------- callback verification ---

// Only ossd's own key URL is trusted (Alibaba's receivers insist on gosspublic.alicdn.com; ours on
// the ossd we talk to). ossd puts its listen address in the URL, so 127.0.0.1 and localhost are the
// same origin here.
const PUB_KEY_PATH = '/_ossd/callback_pub_key.pem';
const ALLOWED_KEY_URLS = new Set(
  (env.CALLBACK_PUB_KEY_URLS ? env.CALLBACK_PUB_KEY_URLS.split(',') : defaultKeyUrls()).map(s => s.trim()),
);
function defaultKeyUrls() {
  const u = new URL(OSSD_ENDPOINT);
  const hosts = new Set([u.hostname]);
  if (['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) {
    ['localhost', '127.0.0.1', '[::1]'].forEach(h => hosts.add(h));
  }
  return [...hosts].map(h => `${u.protocol}//${h}${u.port ? `:${u.port}` : ''}${PUB_KEY_PATH}`);
}

const keyCache = new Map();
async function publicKey(url) {
  if (!ALLOWED_KEY_URLS.has(url)) throw new Error(`public key URL not allowed: ${url}`);
  if (!keyCache.has(url)) {
    const res = await fetch(url, { redirect: 'error' });
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    const pem = await res.text();
    if (!pem.includes('PUBLIC KEY')) throw new Error(`${url} is not a PEM public key`);
    keyCache.set(url, pem);
  }
  return keyCache.get(url);
}

async function verifyCallback(req, rawBody) {
  const keyUrlB64 = req.headers['x-oss-pub-key-url'];
  const authorization = req.headers.authorization;
  if (!keyUrlB64 || !authorization) throw new Error('missing x-oss-pub-key-url or authorization');
  const keyUrl = Buffer.from(keyUrlB64, 'base64').toString('utf8');
  const pem = await publicKey(keyUrl);
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  const head = decodeURIComponent(path) + (query ? `?${query}` : '') + '\n';
  const ok = createVerify('RSA-MD5')
    .update(Buffer.concat([Buffer.from(head, 'utf8'), rawBody]))
    .verify(pem, authorization, 'base64');
  if (!ok) throw new Error('signature does not verify');
}

function callbackVariables(req, rawBody) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim();
  const text = rawBody.toString('utf8');
  if (type === 'application/json') return JSON.parse(text);
  return Object.fromEntries(new URLSearchParams(text));
}

const received = [];

// -------------------------------------------------------------------------- HTTP server ---

function httpError(status, message) {
  return Object.assign(new Error(message), { status });
}

function send(res, status, body, type = 'application/json') {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  // OSS (and ossd) refuse a callback answer without Content-Length, so never answer chunked.
  res.writeHead(status, { 'content-type': type, 'content-length': data.length, 'cache-control': 'no-store' });
  res.end(data);
}

function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolvePromise, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', c => {
      size += c.length;
      if (size > limit) reject(httpError(413, 'body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const STATIC = {
  '/': [join(here, 'index.html'), 'text/html; charset=utf-8'],
  '/index.html': [join(here, 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [join(here, 'app.js'), 'text/javascript; charset=utf-8'],
  '/vendor/aliyun-oss-sdk.min.js': [
    require.resolve('ali-oss/dist/aliyun-oss-sdk.min.js'),
    'text/javascript; charset=utf-8',
  ],
};

let selfOrigin = null;

async function handle(req, res) {
  const url = new URL(req.url, 'http://app.invalid');
  const route = `${req.method} ${url.pathname}`;
  if (req.method === 'GET' && STATIC[url.pathname]) {
    const [file, type] = STATIC[url.pathname];
    return send(res, 200, readFileSync(file), type);
  }
  switch (route) {
    case 'GET /config':
      return send(res, 200, {
        bucket: BUCKET,
        region: REGION,
        endpoint: OSSD_ENDPOINT,
        credentials: CREDENTIALS,
        uploadPrefix: UPLOAD_PREFIX,
        callbackUrl: `${selfOrigin}/callback`,
        callbackBody: CALLBACK_BODY,
      });
    case 'GET /sts':
      return send(res, 200, await temporaryCredentials());
    case 'GET /post-policy':
      return send(res, 200, await postPolicy(url.searchParams));
    case 'POST /callback': {
      const raw = await readBody(req);
      try {
        await verifyCallback(req, raw);
      } catch (err) {
        console.error(`callback refused: ${err.message}`);
        return send(res, 400, { Status: 'Error', verified: false, reason: err.message });
      }
      const vars = callbackVariables(req, raw);
      received.push({
        at: new Date().toISOString(),
        path: req.url,
        headers: req.headers,
        rawBody: raw.toString('base64'),
        vars,
      });
      console.log(`callback verified: ${vars.operation || ''} ${vars.object || ''} (${vars.size ?? '?'} bytes)`);
      return send(res, 200, { Status: 'OK', verified: true, ...vars });
    }
    case 'GET /favicon.ico':
      return send(res, 204, '');
    case 'GET /callbacks':
      return send(res, 200, received);
    default:
      throw httpError(404, `no route ${route}`);
  }
}

// Create the bucket (if missing) and let the page's origin(s) reach it from the browser.
async function prepareBucket(origins) {
  try {
    await admin.putBucket(BUCKET);
  } catch (err) {
    if (!['BucketAlreadyExists', 'BucketAlreadyOwnedByYou'].includes(err.code)) throw err;
  }
  await admin.putBucketCORS(BUCKET, [
    {
      allowedOrigin: origins,
      allowedMethod: ['GET', 'PUT', 'POST', 'HEAD'],
      allowedHeader: '*',
      exposeHeader: ['ETag', 'x-oss-request-id', 'x-oss-hash-crc64ecma'],
    },
  ]);
}

const server = createServer((req, res) => {
  handle(req, res).catch(err => {
    const status = err.status && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) console.error(err);
    send(res, status, { error: err.name, code: err.code, message: err.message });
  });
});

server.listen(PORT, HOST, async () => {
  const { port } = server.address();
  selfOrigin = `http://${HOST}:${port}`;
  const origins = env.PUBLIC_ORIGIN
    ? env.PUBLIC_ORIGIN.split(',').map(s => s.trim())
    : [...new Set([selfOrigin, `http://localhost:${port}`, `http://127.0.0.1:${port}`])];
  try {
    await prepareBucket(origins);
  } catch (err) {
    console.error(`cannot prepare bucket ${BUCKET} on ${OSSD_ENDPOINT}: ${err.code || ''} ${err.message}`);
    process.exit(1);
  }
  console.log(`bucket ${BUCKET} ready on ${OSSD_ENDPOINT} (CORS for ${origins.join(', ')}; credentials: ${CREDENTIALS})`);
  console.log(`app listening on ${selfOrigin}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  });
}
