// Processes the browser e2e drives: a real `ossd serve`, the example's app server, Debian Chromium.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..', '..');
export const EXAMPLE_DIR = join(REPO_ROOT, 'examples', 'browser-upload');
export const OSSD_BIN = process.env.OSSD_BIN || join(REPO_ROOT, 'target', 'debug', 'ossd');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

export function randomCredentials() {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let ak = 'LTAI';
  for (const b of randomBytes(20)) ak += alnum[b % alnum.length];
  return { ak, sk: randomBytes(24).toString('base64url') };
}

// Environment without any OSSD_* setting of the caller (hermetic runs).
function cleanEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSSD_')));
  return { ...env, ...extra };
}

// Spawns a process and resolves once a stdout line matches `re` (with the match).
class Proc {
  constructor(name) {
    this.name = name;
    this.proc = null;
    this.out = [];
    this.err = '';
  }

  start(cmd, args, { env, cwd, re, timeoutMs = 60000 }) {
    const proc = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr.on('data', d => {
      this.err += d.toString();
      if (this.err.length > 200000) this.err = this.err.slice(-100000);
    });
    const rl = createInterface({ input: proc.stdout });
    return new Promise((resolvePromise, reject) => {
      let done = false;
      const fail = msg => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${msg}\n${this.logs()}`));
      };
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        fail(`no ready line within ${timeoutMs} ms`);
      }, timeoutMs);
      proc.on('error', e => fail(`cannot start ${cmd}: ${e.message}`));
      proc.on('exit', code => fail(`exited with ${code} before it was ready`));
      rl.on('line', line => {
        this.out.push(line);
        const m = re.exec(line);
        if (m && !done) {
          done = true;
          clearTimeout(timer);
          resolvePromise(m);
        }
      });
    });
  }

  logs(n = 40) {
    return `--- ${this.name} stdout:\n${this.out.slice(-n).join('\n')}\n--- ${this.name} stderr:\n${this.err
      .split('\n')
      .slice(-n)
      .join('\n')}`;
  }

  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise(r => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  }
}

export class Ossd extends Proc {
  constructor() {
    super('ossd');
    this.tmp = mkdtempSync(join(tmpdir(), 'ossd-browser-e2e-'));
    this.dataDir = join(this.tmp, 'data');
    const { ak, sk } = randomCredentials();
    this.ak = ak;
    this.sk = sk;
  }

  async start({ config, extraArgs = [] }) {
    const args = ['serve', '--listen', '127.0.0.1:0', '--data', this.dataDir, ...(config ? ['--config', config] : []), ...extraArgs];
    const env = cleanEnv({ OSSD_ACCESS_KEY_ID: this.ak, OSSD_ACCESS_KEY_SECRET: this.sk });
    const m = await super.start(OSSD_BIN, args, { env, re: /^ossd listening on (https?):\/\/(\S+)$/ });
    this.scheme = m[1];
    this.addr = m[2];
    this.port = Number(this.addr.slice(this.addr.lastIndexOf(':') + 1));
    return this;
  }

  cleanup() {
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export class AppServer extends Proc {
  constructor() {
    super('app server');
  }

  async start(env) {
    // The app server loads ali-oss (Node client and browser bundle) with require(). Without
    // `npm ci` in the example, it gets this package's ali-oss through NODE_PATH, which must be the
    // very version the example pins.
    const extra = {};
    if (!existsSync(join(EXAMPLE_DIR, 'node_modules', 'ali-oss'))) {
      const pinned = JSON.parse(readFileSync(join(EXAMPLE_DIR, 'package.json'), 'utf8')).dependencies['ali-oss'];
      const ours = JSON.parse(readFileSync(join(here, 'node_modules', 'ali-oss', 'package.json'), 'utf8')).version;
      if (ours !== pinned) {
        throw new Error(`examples/browser-upload pins ali-oss ${pinned}, this package ${ours}: run npm ci in ${EXAMPLE_DIR}`);
      }
      extra.NODE_PATH = join(here, 'node_modules');
    }
    const m = await super.start(process.execPath, ['server.mjs'], {
      cwd: EXAMPLE_DIR,
      env: cleanEnv({ HOST: '127.0.0.1', PORT: '0', ...env, ...extra }),
      re: /^app listening on (http:\/\/\S+)$/,
    });
    this.origin = m[1];
    return this;
  }
}

// A loopback port with nothing listening on it (bound, then released).
export function deadPort() {
  return new Promise((resolvePromise, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePromise(port));
    });
  });
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
