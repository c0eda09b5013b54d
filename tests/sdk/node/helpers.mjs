// Start/stop a real `ossd serve` and build ali-oss clients for it.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import OSS from 'ali-oss';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..', '..');
export const OSSD_BIN = process.env.OSSD_BIN || join(REPO_ROOT, 'target', 'debug', 'ossd');
const LISTEN_RE = /^ossd listening on http:\/\/(\S+)$/;

export function randomCredentials() {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let ak = 'LTAI';
  for (const b of randomBytes(20)) ak += alnum[b % alnum.length];
  return { ak, sk: randomBytes(24).toString('base64url') };
}

export function uniqueBucket(prefix = 'n') {
  return `${prefix}-${randomBytes(10).toString('hex')}`;
}

// OSSD_TEST_CLUSTER="postgres://USER@HOST:PORT|http://S3HOST:PORT": every server a test starts
// is two nodes sharing a fresh PostgreSQL database and S3 prefix, behind a round-robin proxy
// (scripts/test's second pass; see tests/sdk/python/ossd_helpers.py for the same in Python).
const CLUSTER = process.env.OSSD_TEST_CLUSTER || '';

export class OssdServer {
  /** `extraArgs`: more `ossd serve` arguments (e.g. `--config FILE`); `env`: more environment. */
  constructor({ dataDir, ak, sk, extraArgs = [], env = {}, single = false } = {}) {
    if (CLUSTER && !single) {
      // eslint-disable-next-line no-constructor-return
      return new ClusterOssd({ dataDir, ak, sk, extraArgs, env });
    }
    this.extraArgs = extraArgs;
    this.extraEnv = env;
    this.tmp = dataDir ? null : mkdtempSync(join(tmpdir(), 'ossd-node-'));
    this.dataDir = dataDir || join(this.tmp, 'data');
    const creds = ak ? { ak, sk } : randomCredentials();
    this.ak = creds.ak;
    this.sk = creds.sk;
    this.proc = null;
    this.addr = null;
    this.stdoutLines = [];
    this.stderr = '';
  }

  get port() {
    return Number(this.addr.slice(this.addr.lastIndexOf(':') + 1));
  }

  get ipEndpoint() {
    return `http://127.0.0.1:${this.port}`;
  }

  get localhostEndpoint() {
    return `http://localhost:${this.port}`;
  }

  start(listen = '127.0.0.1:0') {
    // Hermetic: no OSSD_* settings (config file, domains, ...) leak in from the caller.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSSD_')));
    env.OSSD_ACCESS_KEY_ID = this.ak;
    env.OSSD_ACCESS_KEY_SECRET = this.sk;
    Object.assign(env, this.extraEnv);
    const args = ['serve', '--listen', listen, '--data', this.dataDir, ...this.extraArgs];
    const proc = spawn(OSSD_BIN, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.stdoutLines = [];
    this.stderr = '';
    proc.stderr.on('data', d => {
      this.stderr += d.toString();
      if (this.stderr.length > 200000) this.stderr = this.stderr.slice(-100000);
    });
    const rl = createInterface({ input: proc.stdout });
    return new Promise((resolvePromise, reject) => {
      let done = false;
      const fail = msg => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new Error(`${msg}\nstdout: ${JSON.stringify(this.stdoutLines)}\nstderr:\n${this.stderrTail()}`));
      };
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        fail('ossd did not print the listening line within 60s');
      }, 60000);
      proc.on('error', err => fail(`cannot start ${OSSD_BIN}: ${err.message}`));
      proc.on('exit', code => fail(`ossd exited with ${code} before listening`));
      rl.on('line', line => {
        this.stdoutLines.push(line);
        const m = LISTEN_RE.exec(line);
        if (m && !done) {
          done = true;
          clearTimeout(timer);
          this.addr = m[1];
          resolvePromise(this);
        }
      });
    });
  }

  stderrTail(n = 60) {
    return this.stderr.split('\n').slice(-n).join('\n');
  }

  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    const exited = new Promise(r => proc.once('exit', code => r(code)));
    proc.kill(signal);
    let timer;
    const timeout = new Promise(r => {
      timer = setTimeout(() => r('timeout'), 15000);
    });
    const result = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      proc.kill('SIGKILL');
      await exited;
      return null;
    }
    return result;
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  cleanup() {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}

// The four ways ali-oss reaches a local server (oss-api.md section 5):
//  ip        endpoint http://127.0.0.1:PORT, forged Host <bucket>.oss-cn-hangzhou.aliyuncs.com
//  localhost endpoint http://localhost:PORT with sldEnable (path style)
// each with V1 (the default) and V4 signatures.
/** One real ossd for a test file: started before its tests, stopped and removed after them;
 *  `set` receives the started server. */
export function useServer(set, options) {
  let server;
  before(async () => {
    server = new OssdServer(options);
    await server.start();
    set(server);
  });
  after(async () => {
    if (server) {
      await server.stop();
      server.cleanup();
    }
  });
}

export const VARIANTS = [
  { name: 'ip-v1', style: 'ip', v4: false },
  { name: 'ip-v4', style: 'ip', v4: true },
  { name: 'localhost-sld-v1', style: 'localhost', v4: false },
  { name: 'localhost-sld-v4', style: 'localhost', v4: true },
];

export function makeClient(server, variant, extra = {}) {
  const opts = {
    accessKeyId: extra.ak || server.ak,
    accessKeySecret: extra.sk || server.sk,
    region: 'oss-cn-hangzhou',
    authorizationV4: !!variant.v4,
    retryMax: 0,
    timeout: 60000,
  };
  if (variant.style === 'ip') {
    opts.endpoint = server.ipEndpoint;
  } else {
    opts.endpoint = server.localhostEndpoint;
    opts.sldEnable = true;
  }
  if (extra.bucket) opts.bucket = extra.bucket;
  return new OSS(opts);
}

export function md5Etag(buf) {
  return `"${createHash('md5').update(buf).digest('hex').toUpperCase()}"`;
}

export function b64md5(buf) {
  return createHash('md5').update(buf).digest('base64');
}

// CRC-64/XZ (ECMA-182, reflected, init and xorout all ones), as OSS's x-oss-hash-crc64ecma.
const CRC_TABLE = (() => {
  const poly = 0xC96C5795D7870F42n;
  const t = new Array(256);
  for (let i = 0n; i < 256n; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t[Number(i)] = c;
  }
  return t;
})();

export function crc64(buf) {
  const mask = 0xFFFFFFFFFFFFFFFFn;
  let crc = mask;
  for (const b of buf) crc = CRC_TABLE[Number((crc ^ BigInt(b)) & 0xFFn)] ^ (crc >> 8n);
  return ((crc ^ mask) & mask).toString();
}

// Await a promise that must reject with an OSS error; returns the error.
export async function expectOssError(promise, { status, code, name }) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected ${status} ${code}, but the call succeeded`);
  const got = { status: err.status, code: err.code, name: err.name };
  const want = { status, code, name: name || (code ? `${code}Error` : undefined) };
  for (const k of Object.keys(want)) {
    if (want[k] !== undefined && got[k] !== want[k]) {
      throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}: ${err.message}`);
    }
  }
  return err;
}

/** Hands each new connection to the next backend in turn. */
class RoundRobinProxy {
  constructor() {
    this.backends = [];
    this.turn = 0;
    this.server = net.createServer(client => {
      const backend = this.backends[this.turn++ % this.backends.length];
      const [host, port] = [backend.slice(0, backend.lastIndexOf(':')), Number(backend.slice(backend.lastIndexOf(':') + 1))];
      const upstream = net.connect(port, host);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
    });
  }

  listen(listen) {
    const i = listen.lastIndexOf(':');
    return new Promise(r => this.server.listen(Number(listen.slice(i + 1)), listen.slice(0, i), () => {
      const a = this.server.address();
      this.addr = `${a.address}:${a.port}`;
      r(this.addr);
    }));
  }

  close() {
    this.server.close();
  }
}

/** Two nodes on PostgreSQL + S3 behind one address, with OssdServer's interface. */
class ClusterOssd {
  constructor({ dataDir, ak, sk, extraArgs, env }) {
    const [pgUrl, s3] = CLUSTER.split('|');
    this.pgUrl = pgUrl;
    this.s3 = s3;
    this.tmp = dataDir ? null : mkdtempSync(join(tmpdir(), 'ossd-node-'));
    this.dataDir = dataDir || join(this.tmp, 'data');
    const creds = ak ? { ak, sk } : randomCredentials();
    this.ak = creds.ak;
    this.sk = creds.sk;
    this.baseArgs = extraArgs;
    this.extraEnv = env;
    this.db = null;
    this.nodes = [];
    this.proxy = null;
  }

  get addr() { return this.proxy && this.proxy.addr; }
  get port() { return Number(this.addr.slice(this.addr.lastIndexOf(':') + 1)); }
  get ipEndpoint() { return `http://127.0.0.1:${this.port}`; }
  get localhostEndpoint() { return `http://localhost:${this.port}`; }
  get proc() { return this.nodes[0] && this.nodes[0].proc; }
  get stdoutLines() { return this.nodes[0] ? this.nodes[0].stdoutLines : []; }

  async start(listen = '127.0.0.1:0') {
    if (!this.db) {
      this.db = `ossd_${randomBytes(6).toString('hex')}`;
      const hostPort = this.pgUrl.split('@')[1].split('/')[0];
      const user = this.pgUrl.split('://')[1].split('@')[0];
      execFileSync('psql', ['-h', hostPort.split(':')[0], '-p', hostPort.split(':')[1], '-U', user, '-d', 'postgres',
        '-c', `CREATE DATABASE ${this.db}`], { stdio: 'ignore' });
      await fetch(`${this.s3}/ossd-cluster`, { method: 'PUT' }).catch(() => {});
    }
    this.proxy = new RoundRobinProxy();
    const addr = await this.proxy.listen(listen);
    const args = [...this.baseArgs,
      '--meta', `${this.pgUrl.replace(/\/$/, '')}/${this.db}`,
      '--blobs', `s3://ossd-cluster/${this.db}?endpoint=${this.s3}&region=us-east-1`,
      '--public-endpoint', addr,
      '--callback-private-key', join(this.dataDir, 'cluster_callback_key.pem')];
    const env = { AWS_ACCESS_KEY_ID: 'ossdtest', AWS_SECRET_ACCESS_KEY: 'ossdtestsecret', ...this.extraEnv };
    const first = new OssdServer({ dataDir: this.dataDir, ak: this.ak, sk: this.sk, extraArgs: args, env, single: true });
    await first.start();
    const peerDir = `${this.dataDir}-node1`;
    mkdirSync(peerDir, { recursive: true });
    for (const f of ['sts_token_key', 'credentials.json']) {
      if (existsSync(join(this.dataDir, f))) copyFileSync(join(this.dataDir, f), join(peerDir, f));
    }
    const second = new OssdServer({ dataDir: peerDir, ak: this.ak, sk: this.sk, extraArgs: args, env, single: true });
    await second.start();
    this.nodes = [first, second];
    this.proxy.backends = [first.addr, second.addr];
    return this;
  }

  stderrTail(n = 60) {
    return this.nodes.map((x, i) => `--- node ${i}\n${x.stderrTail(n)}`).join('\n');
  }

  async stop(signal = 'SIGTERM') {
    const codes = [];
    for (const n of this.nodes.reverse()) codes.push(await n.stop(signal));
    this.nodes = [];
    if (this.proxy) this.proxy.close();
    return codes[codes.length - 1] ?? null;
  }

  async restart() {
    const old = this.addr;
    await this.stop();
    return this.start(old);
  }

  cleanup() {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}
