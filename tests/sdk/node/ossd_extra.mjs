// An OssdServer that takes extra `ossd serve` arguments (e.g. `--config FILE`) and extra
// environment, for suites that need a configured server. helpers.mjs's OssdServer stays as
// it is; this subclass only changes how the process is spawned.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { OSSD_BIN, OssdServer } from './helpers.mjs';

const LISTEN_RE = /^ossd listening on http:\/\/(\S+)$/;

export class OssdServerExtra extends OssdServer {
  constructor({ extraArgs = [], env = {}, ...rest } = {}) {
    super(rest);
    this.extraArgs = extraArgs;
    this.extraEnv = env;
  }

  start(listen = '127.0.0.1:0') {
    // Hermetic like the base class: no OSSD_* settings leak in from the caller.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSSD_')));
    env.OSSD_ACCESS_KEY_ID = this.ak;
    env.OSSD_ACCESS_KEY_SECRET = this.sk;
    Object.assign(env, this.extraEnv);
    const args = ['serve', '--listen', listen, '--data', this.dataDir, ...this.extraArgs];
    const proc = spawn(OSSD_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
        reject(new Error(`${msg}\nargs: ${JSON.stringify(args)}\nstdout: ${JSON.stringify(this.stdoutLines)}\nstderr:\n${this.stderrTail()}`));
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
}
