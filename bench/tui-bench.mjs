#!/usr/bin/env node
// `sigil tui` performance, on the built dist/ (or $SIGIL_BENCH_DIST), in a throwaway HOME,
// against a real agent holding 100 accounts and a 100,000-line audit log:
//
//   1. time to first frame: from spawn until the first full frame is on the terminal
//      (goal ≤ 250 ms), next to `node -e 0` spawned the same way in the same run; a full
//      frame has the agent's answers in it (also shown: first paint, before they came);
//      measured for a locked agent (the passphrase prompt) and an unlocked one (the table
//      of 100 accounts with the status bar filled in)
//   2. keypress to frame: `j` in the accounts table, and `k` in the audit log (which
//      reads older lines from the agent as it scrolls) — goal ≤ 16 ms
//
// The TUI runs in a real pseudo-terminal made by util-linux `script`, whose output this
// process reads as it is written; the baseline goes through the same wrapper, so the
// wrapper's own cost is in both. Frames are recognised on the terminal stream: ink redraws
// a full-height screen as "clear screen + every line", the last line being the status bar.
//
// Run standalone (`node bench/tui-bench.mjs [--runs N] [--keys N] [--json] [--cpu-prof DIR]`;
// --cpu-prof profiles the keypress session into DIR) or import
// runTuiBench() (bench/run.mjs does): it returns the figures and prints nothing.
// Timings are reported, never asserted.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { homeEnv } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = process.execPath;
const PASSPHRASE = 'tui bench passphrase';
const ROWS = 30;
const COLS = 120;
const ACCOUNTS = 100;
const AUDIT_LINES = 100_000;
/** The agent rotates its audit log at 10 MiB: stay under it, or the first write moves it away. */
const AUDIT_MAX_BYTES = 10 * 1024 * 1024 - 64 * 1024;
export const GOALS = { firstFrameMs: 250, keyToFrameMs: 16 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// CSI (with private/intermediate bytes), OSC, charset and keypad selections.
const ANSI = /\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]/g;
const strip = (s) => s.replace(ANSI, '');
const CLEAR = '\x1b[2J';

function distDir() {
  return process.env.SIGIL_BENCH_DIST || join(ROOT, 'dist');
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, min: s[0], p50: q(50), p95: q(95), max: s[s.length - 1] };
}

// ---- the sandbox: HOME, agent, accounts, audit log ----

class BenchHome {
  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'sigil-tui-bench-'));
    this.env = { ...homeEnv(this.home, ['PATH', 'LANG']), TERM: 'xterm-256color' };
    this.socket = join(this.home, 'run/sigilforge/agent.sock');
    this.agentPid = null;
  }

  sigil(args, input = '') {
    const r = spawnSync(NODE, [join(distDir(), 'bin/sigil.js'), ...args], { env: this.env, input, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`sigil ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Synthetic history written before the agent starts; the agent appends after it. */
  writeAuditLog() {
    const ops = ['get_token', 'refresh_token', 'set_token', 'resolve'];
    const t0 = Date.parse('2025-03-01T00:00:00Z');
    const lines = [];
    for (let i = 0; i < AUDIT_LINES; i++) {
      lines.push(JSON.stringify({ time: new Date(t0 + i * 1000).toISOString(), op: ops[i % 4], target: `s${i % 100}/a`, result: i % 7 ? 'ok' : 'LOCKED', pid: i }));
    }
    const text = lines.join('\n') + '\n';
    if (Buffer.byteLength(text) > AUDIT_MAX_BYTES) throw new Error('the synthetic audit log would be rotated');
    const path = join(this.home, 'state/sigilforge/audit.log');
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600 });
  }

  async start() {
    this.writeAuditLog();
    const out = spawnSync(NODE, [join(distDir(), 'bin/sigil-agent.js'), '-s'], { env: this.env, encoding: 'utf8', timeout: 30_000 });
    const m = /SIGIL_AGENT_PID=(\d+)/.exec(out.stdout ?? '');
    if (out.status !== 0 || !m) throw new Error(`sigil-agent failed: ${out.stderr}`);
    this.agentPid = Number(m[1]);
    this.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], PASSPHRASE + '\n');
    this.sigil(['unlock', '--passphrase-stdin'], PASSPHRASE + '\n');
    // 100 accounts through one connection of the client library (100 CLI runs would take ~10 s).
    const { AgentClient } = await import(pathToFileURL(join(distDir(), 'client/agent-client.js')).href);
    const client = await AgentClient.connect({ socketPath: this.socket, clientName: 'tui-bench' });
    try {
      for (let i = 0; i < ACCOUNTS; i++) {
        await client.request('set_token', { service: 'svc', account: `acct${String(i).padStart(3, '0')}`, access_token: `tok_${i}_0123456789abcdef` });
      }
    } finally {
      client.close();
    }
  }

  lock() {
    this.sigil(['lock']);
  }

  unlock() {
    this.sigil(['unlock', '--passphrase-stdin'], PASSPHRASE + '\n');
  }

  cleanup() {
    if (this.agentPid) {
      try {
        process.kill(this.agentPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(this.home, { recursive: true, force: true });
  }
}

// ---- a program in a pseudo-terminal, its output read as frames ----

/** Every pty wrapper still running, killed by PID when the bench ends (also on error). */
const live = new Set();

function killLive() {
  // SIGKILL of `script` closes the pty master: the TUI inside gets SIGHUP and exits.
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

class PtyRun {
  /** `command` runs under sh in a ROWS×COLS pty; CI is unset (ink draws nothing under CI). */
  constructor(command, env) {
    const { CI: _ci, ...rest } = env;
    this.t0 = performance.now();
    this.child = spawn('script', ['-qfec', `stty rows ${ROWS} cols ${COLS}; exec ${command}`, '/dev/null'], {
      env: rest,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stream = '';
    this.waiters = [];
    this.child.stdout.setEncoding('utf8').on('data', (d) => {
      this.stream += d;
      const now = performance.now();
      for (const w of [...this.waiters]) w.check(now);
    });
    live.add(this.child);
    this.exited = new Promise((r) =>
      this.child.on('close', (code) => {
        live.delete(this.child);
        r(code);
      }),
    );
  }

  /** The screen as last drawn: everything since the last clear, escapes removed. */
  currentFrame(from = 0) {
    const s = this.stream.slice(from);
    const i = s.lastIndexOf(CLEAR);
    return strip(i === -1 ? s : s.slice(i));
  }

  /** Resolves with the time at which a frame (drawn after stream offset `from`) first met `ok`. */
  waitFrame(ok, { from = 0, timeoutMs = 10_000 } = {}) {
    return new Promise((resolvePromise, reject) => {
      const w = {
        check: (now) => {
          if (!ok(this.currentFrame(from))) return;
          this.waiters.splice(this.waiters.indexOf(w), 1);
          clearTimeout(timer);
          resolvePromise(now);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        if (process.env.TUI_BENCH_DUMP) writeFileSync(process.env.TUI_BENCH_DUMP, this.stream.slice(from));
        reject(new Error(`no such frame within ${timeoutMs} ms; the screen:\n${this.currentFrame(from)}`));
      }, timeoutMs);
      this.waiters.push(w);
      w.check(performance.now());
    });
  }

  press(keys) {
    const at = this.stream.length;
    const t = performance.now();
    this.child.stdin.write(keys);
    return { at, t };
  }

  /** Ctrl-C: it quits from every screen, the passphrase field included (q would be typed). */
  async quit() {
    this.child.stdin.write('\x03');
    const code = await Promise.race([this.exited, sleep(3000).then(() => null)]);
    if (code === null) this.child.kill('SIGKILL');
    return code;
  }
}

/** `node -e 0` through the same pty wrapper, spawn to exit. */
async function baseline(runs, env) {
  const wrapped = [];
  const bare = [];
  for (let i = 0; i < runs; i++) {
    const p = new PtyRun(`${NODE} -e 0`, env);
    await p.exited;
    wrapped.push(performance.now() - p.t0);
    const t = performance.now();
    spawnSync(NODE, ['-e', '0'], { env });
    bare.push(performance.now() - t);
  }
  return { wrapped: stats(wrapped), bare: stats(bare) };
}

const tuiCommand = (nodeFlags = '') => `${NODE} ${nodeFlags} ${join(distDir(), 'bin/sigil.js')} tui`;
const full = (f) => f.includes('? help');

/** First paint (ink's first frame, before any answer from the agent) and first full frame. */
async function firstFrames(runs, env, ready) {
  const paint = [];
  const first = [];
  for (let i = 0; i < runs; i++) {
    const p = new PtyRun(tuiCommand(), env);
    const painted = p.waitFrame((f) => f.includes('Sigilforge'));
    const t = await p.waitFrame((f) => full(f) && ready(f));
    paint.push((await painted) - p.t0);
    first.push(t - p.t0);
    await p.quit();
  }
  return { paint: stats(paint), full: stats(first) };
}

/**
 * Presses `key` `count` times at irregular gaps (so no press lands in ink's frame throttle
 * behind a status-bar redraw by design), timing each until the frame that shows its effect.
 */
async function keyTimes(p, count, key, expect) {
  const times = [];
  for (let i = 0; i < count; i++) {
    await sleep(40 + Math.floor(Math.random() * 40));
    const want = expect(i);
    const { at, t } = p.press(key);
    const done = await p.waitFrame((f) => full(f) && want(f), { from: at });
    times.push(done - t);
  }
  return stats(times);
}

export async function runTuiBench({ runs = 8, keys = 40, cpuProf = null } = {}) {
  if (spawnSync('script', ['--version']).status !== 0) throw new Error('util-linux `script` is needed for a pseudo-terminal');
  const home = new BenchHome();
  try {
    await home.start();
    const env = home.env;
    const base = await baseline(runs, env);

    home.lock();
    const locked = await firstFrames(runs, env, (f) => f.includes('Passphrase:') && f.includes('LOCKED'));
    home.unlock();
    const unlocked = await firstFrames(runs, env, (f) => f.includes('UNLOCKED') && /› svc\s+acct000/.test(f));

    // One session: j through the table (it scrolls past row ~25), then k through the audit log.
    const p = new PtyRun(tuiCommand(cpuProf ? `--cpu-prof --cpu-prof-dir=${resolve(cpuProf)}` : ''), env);
    await p.waitFrame((f) => full(f) && /› svc\s+acct000/.test(f));
    const table = await keyTimes(p, Math.min(keys, ACCOUNTS - 1), 'j', (i) => (f) => new RegExp(`› svc\\s+acct${String(i + 1).padStart(3, '0')}`).test(f));
    p.press('2');
    await p.waitFrame((f) => full(f) && /Audit log\s+following/.test(f) && /set_token\s+svc\/acct099/.test(f));
    // Each k moves the view one line up: the topmost row shows it. A press past the oldest line
    // read so far waits for the agent to read a page more from the end of the 100k-line file.
    const topRow = (f) => (f.match(/^\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*$/m) ?? [])[0];
    let shown = topRow(p.currentFrame());
    const audit = await keyTimes(p, keys, 'k', () => (f) => {
      const top = topRow(f);
      if (!top || top === shown) return false;
      shown = top;
      return true;
    });
    const exit = await p.quit();

    return {
      terminal: { rows: ROWS, cols: COLS },
      accounts: ACCOUNTS,
      auditLines: AUDIT_LINES,
      baseline: base,
      firstPaint: { locked: locked.paint, unlocked: unlocked.paint },
      firstFrame: { locked: locked.full, unlocked: unlocked.full },
      firstFrameRatio: { locked: locked.full.p50 / base.wrapped.p50, unlocked: unlocked.full.p50 / base.wrapped.p50 },
      keyToFrame: { accountsJ: table, auditK: audit },
      quitExit: exit,
      goals: GOALS,
    };
  } finally {
    killLive();
    home.cleanup();
  }
}

export function printTuiBench(r) {
  const ms = (v) => `${v.toFixed(1)} ms`;
  const row = (name, s, goal) =>
    `${name.padEnd(36)} ${ms(s.p50).padStart(9)} ${ms(s.p95).padStart(9)} ${ms(s.max).padStart(9)}  ${goal === undefined ? '' : s.p50 <= goal ? `≤ ${goal} ms: met` : `≤ ${goal} ms: NOT met`}`;
  const lines = [
    `sigil tui in a ${r.terminal.cols}×${r.terminal.rows} pty, ${r.accounts} accounts, ${r.auditLines.toLocaleString('en')}-line audit log`,
    '',
    `${''.padEnd(36)} ${'p50'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)}`,
    row('node -e 0 (bare spawn)', r.baseline.bare),
    row('node -e 0 (same pty wrapper)', r.baseline.wrapped),
    row('first paint (before agent answers)', r.firstPaint.unlocked),
    row('first frame, locked (passphrase)', r.firstFrame.locked, r.goals.firstFrameMs),
    row('first frame, unlocked (100 accounts)', r.firstFrame.unlocked, r.goals.firstFrameMs),
    row('key → frame: j in the accounts', r.keyToFrame.accountsJ, r.goals.keyToFrameMs),
    row('key → frame: k in the audit log', r.keyToFrame.auditK, r.goals.keyToFrameMs),
    '',
    `first frame / node -e 0 (p50, same wrapper): locked ${r.firstFrameRatio.locked.toFixed(2)}×, unlocked ${r.firstFrameRatio.unlocked.toFixed(2)}×`,
    `exit status after Ctrl-C: ${r.quitExit}`,
  ];
  console.log(lines.join('\n'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '8' }, keys: { type: 'string', default: '40' }, json: { type: 'boolean', default: false }, 'cpu-prof': { type: 'string' } },
  });
  const r = await runTuiBench({ runs: Number(values.runs), keys: Number(values.keys), cpuProf: values['cpu-prof'] ?? null });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else printTuiBench(r);
}
