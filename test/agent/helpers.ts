import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { Caller, CallerProcess } from '../../src/agent/caller/caller.js';
import { AgentClient } from '../../src/client/agent-client.js';
import { writeConfig } from '../oauth/flow-helpers.js';
import { BIN, eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

/**
 * Small helpers shared by the agent tests. Process checks read /proc rather than kill(pid, 0)
 * so that a zombie (exited, not yet reaped by whatever adopted a daemon) counts as gone.
 */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** Live background agents (daemon children) serving `socket`, found by their argv. */
export function agentPidsFor(socket: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const argv = cmdline(pid);
    if (argv.includes(BIN.agent) && argv.includes('--daemon-child') && argv.includes(socket) && running(pid)) pids.push(pid);
  }
  return pids;
}

/** Stops the sandbox's agent the way a logout does (SIGTERM), starts a new one and unlocks it. */
export async function restartAgent(sb: Sandbox): Promise<void> {
  const status = await sb.status();
  process.kill(status.pid as number, 'SIGTERM');
  await eventually(() => !existsSync(sb.socket));
  await sb.startAgent();
  const unlock = await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' });
  if (unlock.code !== 0) throw new Error(`sigil unlock failed: ${unlock.stderr}`);
}

/** Reads `SIGIL_AUTH_SOCK=…; export …; SIGIL_AGENT_PID=N; …` (sh dialect, plain path). */
export function parseShExports(out: string): { sock: string; pid: number } {
  const sock = /^SIGIL_AUTH_SOCK=(\S+); export SIGIL_AUTH_SOCK;$/m.exec(out)?.[1];
  const pid = /^SIGIL_AGENT_PID=(\d+); export SIGIL_AGENT_PID;$/m.exec(out)?.[1];
  if (!sock || !pid) throw new Error(`no exports in ${JSON.stringify(out)}`);
  return { sock, pid: Number(pid) };
}

export function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Entries of the audit log once `check` finds what it waits for (the agent buffers ~100 ms). */
export async function auditUntil(sb: Sandbox, check: (entries: Record<string, unknown>[]) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = sb.auditEntries();
    if (check(entries)) return entries;
    if (Date.now() > deadline) throw new Error(`audit log never matched; it holds:\n${entries.map((e) => JSON.stringify(e)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `sigil-agent -s` in the sandbox, checked and parsed; the pid it names is tracked. */
export async function startSh(sb: Sandbox, extra: string[] = [], env: Record<string, string> = {}): Promise<{ sock: string; pid: number; stdout: string }> {
  const r = await sb.run(BIN.agent, ['-s', ...extra], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const exp = parseShExports(r.stdout);
  sb.track(exp.pid);
  return { ...exp, stdout: r.stdout };
}

/**
 * Safety net for afterEach: kills, by pid, any background agent whose argv names a path in
 * this sandbox (a daemon child always carries its -a path), in case a failing test started
 * one it did not get to track. The sandbox's home is a fresh mkdtemp, so nothing else matches.
 */
export function killStrayAgents(sb: Sandbox): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = cmdline(Number(name));
    // BIN.agent, or a link to it on a PATH the test made (`npm link` style, as the quick start).
    if (argv.some((a) => a === BIN.agent || a.endsWith('/sigil-agent')) && argv.some((a) => a.startsWith(sb.home + '/'))) {
      try {
        process.kill(Number(name), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

/**
 * A fresh Sandbox for every test of the calling suite, handed to `set`; after each test its
 * processes and any agent it left behind are killed and its HOME removed.
 */
export function sandboxEach(set: (sb: Sandbox) => void): void {
  let current: Sandbox | undefined;
  beforeEach(() => set((current = new Sandbox())));
  afterEach(() => {
    if (!current) return;
    killStrayAgents(current);
    current.cleanup();
  });
}

/**
 * For the calling suite: one sandbox whose agent runs unlocked (with `config()` as its
 * config.toml, when given, written before it starts) and a client connected to it.
 */
export function agentSuite(config?: () => string): { readonly sb: Sandbox; readonly client: AgentClient } {
  let sb: Sandbox | undefined;
  let client: AgentClient | undefined;
  beforeAll(async () => {
    sb = new Sandbox();
    if (config) writeConfig(sb, config());
    await sb.startAgent();
    await sb.initAndUnlock();
    client = await AgentClient.connect({ socketPath: sb.socket });
  });
  afterAll(() => {
    client?.close();
    sb?.cleanup();
  });
  return {
    get sb() {
      return sb!;
    },
    get client() {
      return client!;
    },
  };
}

/**
 * A Caller as the Unix transport builds it, for unit tests of policy and confirmation: the
 * peer running `program` (an executable, or a script under `interpreter`), then the given
 * parents, each `{ program }` or a Sigilforge client `{ sigil }`.
 */
export function fakeCaller(program: string, opts: { pid?: number; interpreter?: string; parents?: Partial<CallerProcess>[] } = {}): Caller {
  const pid = opts.pid ?? 4242;
  const exe = opts.interpreter ?? program;
  const peer = { pid, uid: 1000, gid: 1000, exe };
  const first: CallerProcess = { pid, uid: 1000, exe, program, ...(opts.interpreter ? { script: program } : {}) };
  const parents = (opts.parents ?? []).map((p, i): CallerProcess => ({ pid: pid - 1 - i, uid: 1000, ...p }));
  return { peer, chain: [first, ...parents] };
}
