import { render } from 'ink-testing-library';
import { act, createElement } from 'react';
import { AgentClient, type CallRest } from '../../src/client/agent-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import type { Op, OpAnswer, OpArgs } from '../../src/protocol/op-catalog.js';
import type { AccountInfo, AgentStatus } from '../../src/protocol/results.js';
import { AgentSession, type AgentPort } from '../../src/tui/agent-session.js';
import { App } from '../../src/tui/app.js';
import type { PollPeriods, TuiDeps } from '../../src/tui/deps.js';
import { TEST_PASSPHRASE, type Sandbox } from '../support/sandbox.js';

// Without it, key handlers that ink re-attaches in effects miss keys (NOTES.md).
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export const KEY = {
  enter: '\r',
  esc: '\x1b',
  up: '\x1b[A',
  down: '\x1b[B',
  pageUp: '\x1b[5~',
  pageDown: '\x1b[6~',
  tab: '\t',
  backspace: '\x7f',
  ctrlC: '\x03',
} as const;

/** Faster than the real periods (1 s, 5 s, 1 s) so tests wait less; the code paths are the same. */
export const TEST_POLL: PollPeriods = { statusMs: 150, accountsMs: 300, auditMs: 150 };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A session on the sandbox's real agent, recording every request for assertions. */
export function realDeps(sb: Sandbox, overrides: Partial<TuiDeps> = {}): TuiDeps & { calls: { op: string; args: Record<string, unknown> }[]; opened: string[] } {
  const calls: { op: string; args: Record<string, unknown> }[] = [];
  const opened: string[] = [];
  const connect = async (): Promise<AgentPort> => {
    const client = await AgentClient.connect({ socketPath: sb.socket, clientName: 'sigil-tui-test', connectTimeoutMs: 1000 });
    return {
      call: (op, ...rest) => {
        calls.push({ op, args: (rest[0] ?? {}) as Record<string, unknown> });
        return client.call(op, ...rest);
      },
      close: () => client.close(),
    };
  };
  return {
    session: new AgentSession(connect),
    openUrl: async (url) => {
      opened.push(url);
      return true;
    },
    browser: () => ({ preferred: 'device', canLaunch: false }),
    hyperlinks: false,
    now: Date.now,
    poll: TEST_POLL,
    calls,
    opened,
    ...overrides,
  };
}

export interface Mounted {
  lastFrame(): string;
  /** Everything written to the terminal so far: each frame, and what the app wrote itself. */
  written(): string[];
  /** Writes keys (one input event per call) inside act(), then lets ink flush a lone Esc. */
  press(...keys: string[]): Promise<void>;
  /** Types text one character per input event, as a person does. */
  type(text: string): Promise<void>;
  waitFor(what: string | RegExp | ((frame: string) => boolean), timeoutMs?: number): Promise<string>;
  /** Lets time pass inside act(), so the polls' state updates are not "outside act". */
  idle(ms: number): Promise<void>;
  /** Awaits something else (a CLI command) inside act(), for the same reason. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  unmount(): Promise<void>;
  quits: number;
}

export async function mountApp(deps: TuiDeps): Promise<Mounted> {
  const state = { quits: 0 };
  let inst!: ReturnType<typeof render>;
  await act(async () => {
    inst = render(createElement(App, { deps, onQuit: () => state.quits++ }));
  });
  const frame = () => inst.lastFrame() ?? '';
  const m: Mounted = {
    lastFrame: frame,
    written: () => inst.frames,
    async press(...keys) {
      for (const k of keys) {
        await act(async () => {
          inst.stdin.write(k);
          // ink holds a lone ESC for one setImmediate to tell it from an escape sequence.
          await new Promise((r) => setImmediate(r));
          await sleep(5);
        });
      }
    },
    async type(text) {
      for (const ch of text) await m.press(ch);
    },
    async waitFor(what, timeoutMs = 5000) {
      const ok = typeof what === 'function' ? what : (f: string) => (typeof what === 'string' ? f.includes(what) : what.test(f));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (ok(frame())) return frame();
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${String(what)}; the last frame:\n${frame()}`);
        await act(async () => {
          await sleep(20);
        });
      }
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      let out!: T;
      await act(async () => {
        out = await fn();
      });
      return out;
    },
    async idle(ms) {
      await act(async () => {
        await sleep(ms);
      });
    },
    async unmount() {
      await act(async () => {
        inst.unmount();
      });
      deps.session.close();
    },
    get quits() {
      return state.quits;
    },
  };
  return m;
}

/** Stores a static token through the CLI (the value goes in on stdin, as users do). */
export async function setToken(sb: Sandbox, service: string, account: string, value: string, extra: string[] = []): Promise<void> {
  const r = await sb.sigil(['token', 'set', service, account, '--stdin', ...extra], { input: value + '\n' });
  if (r.code !== 0) throw new Error(`token set failed: ${r.stderr}`);
}

export async function lockAgent(sb: Sandbox): Promise<void> {
  const r = await sb.sigil(['lock']);
  if (r.code !== 0) throw new Error(`lock failed: ${r.stderr}`);
}

export { TEST_PASSPHRASE };

/** A fake agent's answers, typed by the op catalogue as the real agent's are. */
export type FakeHandlers = { [O in Op]?: (args: OpArgs<O>) => OpAnswer<O> | Promise<OpAnswer<O>> };

/** A fake agent for what a real one cannot cheaply show (100 accounts, a vanished agent). */
export function fakeDeps(handlers: FakeHandlers, overrides: Partial<TuiDeps> = {}): TuiDeps {
  const port: AgentPort = {
    async call<O extends Op>(op: O, ...[args]: CallRest<O>) {
      const h = handlers[op] as ((args: OpArgs<O>) => OpAnswer<O> | Promise<OpAnswer<O>>) | undefined;
      if (!h) throw new SigilError(ErrorCode.UNKNOWN_OP, `fake agent: no ${op}`);
      return h((args ?? {}) as OpArgs<O>);
    },
    close() {},
  };
  return { session: new AgentSession(async () => port), openUrl: async () => true, browser: () => ({ preferred: 'device', canLaunch: false }), hyperlinks: false, now: Date.now, poll: TEST_POLL, ...overrides };
}

export function fakeStatus(locked = false): AgentStatus {
  return {
    locked,
    vault: true,
    vault_path: '/home/u/.local/share/sigilforge/vault.age',
    pid: 4242,
    version: '0.1.0',
    socket: '/run/user/1000/sigilforge/agent.sock',
    lock_timeout_s: 900,
    locks_in_s: locked ? null : 600,
    accounts: 0,
    secrets: locked ? null : 0,
    uptime_s: 60,
    peer_check: true,
    failed_unlocks: 0,
    unlock_at_login: false,
  };
}

export function fakeAccount(service: string, account: string, extra: Partial<AccountInfo> = {}): AccountInfo {
  return { service, account, kind: 'oauth', status: 'valid', token_type: 'Bearer', expires_at: null, scopes: ['repo'], created: 1735689600, last_used: null, ...extra };
}
