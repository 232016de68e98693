// Shared helpers for the benchmark: a throwaway HOME, process bookkeeping (every process we
// start is killed by PID, also on error), statistics and a plain-text table.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const NODE = process.execPath;

/** Where the measured build lives: ROOT/dist, or a snapshot of it (see snapshotDist). */
export let DIST = process.env.SIGIL_BENCH_DIST || join(ROOT, 'dist');
export const BIN = binsIn(DIST);

function binsIn(dist) {
  return {
    sigil: join(dist, 'bin/sigil.js'),
    agent: join(dist, 'bin/sigil-agent.js'),
    token: join(dist, 'bin/sigil-token.cjs'),
    // The `sigil-token` bin: the C program where it was built and runs, else a launcher of the .cjs.
    tokenBin: join(dist, 'bin/sigil-token'),
  };
}

/**
 * Copies dist/ into `dir` (with package.json and a node_modules link), so that a rebuild
 * by someone else during the run (scripts/build.mjs deletes dist/ first) can neither break
 * the bench nor mix two builds in one set of figures. Child processes find it through
 * SIGIL_BENCH_DIST.
 */
export function snapshotDist(dir) {
  const src = join(ROOT, 'dist');
  // A build in progress (tsc done once the bundle exists and the tsc copy of it is gone): wait for it.
  const complete = () => Object.values(binsIn(src)).every((p) => existsSync(p)) && !existsSync(join(src, 'bin/sigil-token.js'));
  for (let i = 0; i < 60 && !complete(); i++) spawnSync('sleep', ['0.25']);
  if (!complete()) throw new Error('dist/ is missing or incomplete: run `npm run build` first');
  spawnSync('sleep', ['0.25']); // let a finishing build chmod its bins
  mkdirSync(dir, { recursive: true });
  cpSync(src, join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  DIST = join(dir, 'dist');
  Object.assign(BIN, binsIn(DIST));
  process.env.SIGIL_BENCH_DIST = DIST;
  return DIST;
}

/** import() of a module of the measured build, e.g. distImport('client/agent-client.js'). */
export function distImport(rel) {
  return import(pathToFileURL(join(DIST, rel)).href);
}

// ---- processes ----

const pids = new Set();

/** Remembers a PID so that killAll() ends it. */
export function track(pid) {
  if (pid) pids.add(pid);
  return pid;
}

export function untrack(pid) {
  pids.delete(pid);
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL whatever is still there after `graceMs`. Synchronous on purpose (exit handlers). */
export function killAll(graceMs = 300) {
  const list = [...pids];
  pids.clear();
  for (const pid of list) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  let left = list.filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    spawnSync('sleep', ['0.02']);
    left = left.filter(isAlive);
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function killOne(pid, signal = 'SIGTERM') {
  untrack(pid);
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function waitExit(pid, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    // A zombie child of ours still answers kill(0): check its state too.
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) Z /.test(st)) return true;
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- sandbox ----

/**
 * The environment of a throwaway HOME with its own XDG directories, as test/support/sandbox.ts
 * makes it: only `keep` is taken from ours (no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS, which
 * alone adds ~30 ms to every node start-up).
 */
export function homeEnv(home, keep = ['PATH', 'LANG', 'TERM']) {
  const env = {};
  for (const k of keep) if (process.env[k]) env[k] = process.env[k];
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_STATE_HOME: join(home, 'state'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    SHELL: '/bin/sh',
  };
}

/** A temporary HOME with its own XDG directories, as test/support/sandbox.ts does. */
export class Sandbox {
  constructor(prefix = 'sigil-bench-') {
    this.home = mkdtempSync(join(tmpdir(), prefix));
    this.env = homeEnv(this.home);
  }

  get vaultPath() {
    return join(this.home, 'data/sigilforge/vault.age');
  }

  get auditPath() {
    return join(this.home, 'state/sigilforge/audit.log');
  }

  /** Runs `node SCRIPT ARGS…` to completion in the sandbox. */
  run(script, args, { input = '', env = {}, timeoutMs = 60_000 } = {}) {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(NODE, [script, ...args], { env: { ...this.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
      track(child.pid);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        untrack(child.pid);
        resolvePromise({ code, signal, stdout, stderr });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    });
  }

  async sigil(args, opts) {
    const r = await this.run(BIN.sigil, args, opts);
    if (r.code !== 0) throw new Error(`sigil ${args[0]} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
    return r;
  }

  /** Starts a daemonized agent the rc-file way (`sigil-agent -s`); returns {pid, socket}. */
  async startAgent() {
    const r = await this.run(BIN.agent, ['-s']);
    const pid = /SIGIL_AGENT_PID=(\d+)/.exec(r.stdout);
    const sock = /SIGIL_AUTH_SOCK=([^;\s]+)/.exec(r.stdout);
    if (r.code !== 0 || !pid || !sock) throw new Error(`sigil-agent -s failed (${r.code}): ${r.stderr.trim()}`);
    const agent = { pid: track(Number(pid[1])), socket: sock[1].replace(/^'|'$/g, '') };
    this.env.SIGIL_AUTH_SOCK = agent.socket;
    this.env.SIGIL_AGENT_PID = String(agent.pid);
    return agent;
  }

  cleanup() {
    rmSync(this.home, { recursive: true, force: true });
  }
}

// ---- /proc ----

/** {rssKiB, hwmKiB} from /proc/PID/status. */
export function memOf(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds a process (all threads) has used so far, {user, sys}. */
export function cpuOf(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
}

/**
 * Read- and write-type system calls a process (all its threads) has made so far. NaN for
 * the agent when we are not root: it is not dumpable, which closes /proc/PID/io to its user.
 */
export function syscallsOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch (err) {
    if (err.code === 'EACCES') return { r: NaN, w: NaN };
    throw err;
  }
  const n = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { r: n('syscr'), w: n('syscw') };
}

/** Filesystem type holding `path` (fsync cost depends on it). */
export function fsTypeOf(path) {
  const r = spawnSync('df', ['--output=fstype', path], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n').pop().trim() : 'unknown';
}

/** Warns when a source file is newer than the build: the bench measures dist/. */
export function staleBuild() {
  const agentJs = join(ROOT, 'dist/bin/sigil-agent.js');
  if (!existsSync(agentJs)) return 'missing';
  const built = statSync(agentJs).mtimeMs;
  const newer = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).mtimeMs > built) newer.push(p.slice(ROOT.length + 1));
    }
  };
  walk(join(ROOT, 'src'));
  return newer.length > 0 ? newer : null;
}

// ---- statistics ----

/** Nearest-rank percentile of a sorted array. */
export function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(samples) {
  const s = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return {
    n: s.length,
    mean: sum / s.length,
    min: s[0],
    median: pct(s, 50),
    p90: pct(s, 90),
    p99: pct(s, 99),
    max: s[s.length - 1],
  };
}

// ---- fixtures ----

/**
 * Bundles TypeScript `contents` (imports resolved from the project root; packages left to
 * node_modules) for plain node, and imports it: the test fixtures a benchmark reuses.
 */
export async function importBundled(contents, outfile) {
  const { build } = await import('esbuild');
  await build({
    stdin: { contents, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    packages: 'external',
    logLevel: 'silent',
  });
  return import(pathToFileURL(outfile).href);
}

// ---- output ----

export const fmt = {
  ms: (x, d = 1) => (Number.isFinite(x) ? `${x.toFixed(d)} ms` : 'n/a'),
  x: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a'),
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a'),
  mib: (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a'),
};

/** Left-aligned first column, right-aligned others. */
export function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].map((l) => '  ' + l).join('\n');
}

export function verdict(met) {
  return met ? 'MET' : 'NOT MET';
}
