import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * A throwaway HOME with its own XDG directories, and the built binaries run in it as
 * subprocesses — the real agent, never a mock. Every process started is killed by PID in
 * cleanup().
 */
export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = {
  sigil: join(ROOT, 'dist/bin/sigil.js'),
  agent: join(ROOT, 'dist/bin/sigil-agent.js'),
  token: join(ROOT, 'dist/bin/sigil-token.cjs'),
};

/** Low scrypt cost for test vaults: the format and code path are the same, the wait is not. */
export const TEST_WORK_FACTOR = '10';
export const TEST_PASSPHRASE = 'correct horse battery staple';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What the sandbox's own runs give: also stdout as the bytes written (values that are not text). */
export interface ExecResult extends RunResult {
  stdoutBytes: Buffer;
}

/** A process left running (a foreground agent, a client waiting on something). */
export interface Background {
  child: ChildProcess;
  pid: number;
  /** Output so far (grows while it runs). */
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class Sandbox {
  readonly home: string;
  readonly env: Record<string, string>;
  private readonly pids = new Set<number>();

  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'sigil-test-'));
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'LANG', 'TERM', 'SYSTEMROOT']) if (process.env[k]) base[k] = process.env[k]!;
    this.env = {
      ...base,
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, 'config'),
      XDG_DATA_HOME: join(this.home, 'data'),
      XDG_STATE_HOME: join(this.home, 'state'),
      XDG_RUNTIME_DIR: join(this.home, 'run'),
      SHELL: '/bin/sh',
    };
  }

  get socket(): string {
    return join(this.home, 'run/sigilforge/agent.sock');
  }

  get auditPath(): string {
    return join(this.home, 'state/sigilforge/audit.log');
  }

  /** Runs a node script (one of BIN) to completion. */
  run(script: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<ExecResult> {
    return this.exec(process.execPath, [script, ...args], opts);
  }

  exec(cmd: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<ExecResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(cmd, args, { env: { ...this.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
      if (child.pid) this.pids.add(child.pid);
      const stdout: Buffer[] = [];
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => stdout.push(d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (child.pid) this.pids.delete(child.pid);
        const bytes = Buffer.concat(stdout);
        resolvePromise({ code, signal, stdout: bytes.toString('utf8'), stderr, stdoutBytes: bytes });
      });
      child.stdin!.on('error', () => {}); // EPIPE when the program exits before reading it all
      child.stdin!.end(opts.input ?? '');
    });
  }

  /** Starts a process and leaves it running; it is tracked and killed by cleanup(). */
  spawnBackground(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Background {
    const child = spawn(cmd, args, { env: { ...this.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    if (!child.pid) throw new Error(`cannot start ${cmd}`);
    this.pids.add(child.pid);
    const out = { stdout: '', stderr: '' };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('close', (code, signal) => {
        this.pids.delete(child.pid!);
        r({ code, signal });
      }),
    );
    return {
      child,
      pid: child.pid,
      get stdout() {
        return out.stdout;
      },
      get stderr() {
        return out.stderr;
      },
      exited,
    };
  }

  /** The audit log's entries as written so far (the agent buffers up to ~100 ms). */
  auditEntries(): Record<string, unknown>[] {
    let text: string;
    try {
      text = readFileSync(this.auditPath, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** `sigil status --json`, parsed; throws when the command fails. */
  async status(env: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const r = await this.sigil(['status', '--json'], { env });
    if (r.code !== 0) throw new Error(`sigil status failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  sigil(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {}): Promise<ExecResult> {
    return this.run(BIN.sigil, args, opts);
  }

  token(service: string, account: string): Promise<RunResult> {
    return this.run(BIN.token, [service, account]);
  }

  /** Starts a daemonized agent the rc-file way and returns its pid. */
  async startAgent(extra: string[] = [], env: Record<string, string> = {}): Promise<number> {
    const r = await this.run(BIN.agent, ['-s', ...extra], { env });
    const m = /SIGIL_AGENT_PID=(\d+)/.exec(r.stdout);
    if (r.code !== 0 || !m) throw new Error(`sigil-agent failed (${r.code}): ${r.stderr}`);
    const pid = Number(m[1]);
    this.track(pid);
    return pid;
  }

  /** Creates the vault and unlocks the agent. */
  async initAndUnlock(): Promise<void> {
    const init = await this.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: TEST_PASSPHRASE + '\n' });
    if (init.code !== 0) throw new Error(`sigil init failed: ${init.stderr}`);
    const unlock = await this.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' });
    if (unlock.code !== 0) throw new Error(`sigil unlock failed: ${unlock.stderr}`);
  }

  track(pid: number): void {
    this.pids.add(pid);
  }

  cleanup(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
    // A process killed a moment ago may still be writing its last file (the audit log).
    rmSync(this.home, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

/** Polls until `check` holds or the time is up (for effects that happen in another process). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export type { SpawnOptions };
