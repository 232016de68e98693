import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RunningAgent } from '../agent/run-agent.js';
import { prepareSocketDir } from '../agent/socket-setup.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { VaultLease } from '../stores/vault-lease.js';
import { sigilPaths } from '../util/paths.js';
import { isAlive } from '../util/process-alive.js';
import { call, useDirectAgent } from './agent.js';
import { readSecret } from './secret-input.js';

/**
 * `sigil --direct COMMAND`: the command with no agent running (recovery, a CI job). The
 * agent's own parts run inside this sigil process for the one command — the same op table,
 * dispatcher, policy and audit log, over a private socket in a fresh 0700 directory beside
 * the agent's socket — so every command behaves as it does with an agent, and no op has a
 * second implementation.
 * The vault lease is taken first, so an agent that holds the vault unlocked is named and
 * nothing is asked, and an agent that tries to unlock meanwhile is refused. The vault is
 * unlocked when the command first needs it, with the passphrase from the usual sources, and
 * locked, flushed and given back when the command ends.
 */

/** Commands that make sense only with an agent that outlives the command. */
const REFUSED: Readonly<Record<string, string>> = {
  tui: 'the TUI is a session with a running agent',
  unlock: 'it unlocks the vault for one command and locks it again after; to keep it unlocked, use an agent',
  lock: 'it locks the vault again after each command; there is nothing to lock',
  ssh: 'forwarding needs an agent that outlives the command',
};
/** Commands that use no agent: they run as they would without --direct. */
const NO_AGENT = new Set(['init', 'completion', 'logs']);

interface DirectSession {
  agent: RunningAgent;
  lease: VaultLease;
  dir: string;
  /** Read from stdin before the command ran; wiped when used, or at the end. */
  passphrase?: Buffer;
}

let session: DirectSession | null = null;

export interface DirectOptions {
  /** The root's --passphrase-stdin: the first line of stdin is the vault passphrase. */
  passphraseStdin?: boolean;
}

/** Before `cmd`'s action: starts this process's agent (unless `cmd` uses none), locked. */
export async function enterDirect(cmd: Command, opts: DirectOptions): Promise<void> {
  const name = commandPath(cmd);
  const follow = name === 'audit' && cmd.opts<{ follow?: boolean }>().follow;
  const refused = follow ? 'audit -f follows a running agent' : REFUSED[name];
  if (refused) throw new SigilError(ErrorCode.BAD_REQUEST, `sigil --direct ${name} is refused: ${refused}; start one with: eval "$(sigil-agent)"`);
  if (NO_AGENT.has(name)) return;

  const paths = sigilPaths();
  const dir = privateDir(paths.socketDir);
  const socketPath = join(dir, 'agent.sock');
  const lease = new VaultLease(`${paths.vault}.lease`, { pid: process.pid, socket: socketPath, direct: true });
  try {
    lease.acquire();
    const { startAgent } = await import('../agent/run-agent.js');
    // No idle lock: the command's own length is the limit (a sign-in flow may take minutes).
    const agent = await startAgent({ socketPath, defaultSocketDir: false, debug: false, lockTimeoutS: 0, paths, direct: true });
    session = { agent, lease, dir };
  } catch (err) {
    lease.release();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Stdin's first line is the passphrase, whatever the command reads after it: taken now.
  const early = opts.passphraseStdin ? await readSecret('', { stdin: true, line: true }) : null;
  if (early) session.passphrase = early;
  useDirectAgent({ socketPath, unlock: once(() => unlock(early)) });
}

/**
 * Run before the command's first request for an op that needs the unlocked vault (agent.ts),
 * so a command that needs none (passwd, status, run with no reference…) asks no passphrase.
 */
async function unlock(early: Buffer | null): Promise<void> {
  const status = await call('status');
  // Before asking for a passphrase that could not be used.
  if (status.vault === false) throw new SigilError(ErrorCode.NOT_FOUND, `no vault at ${status.vault_path} — run: sigil init`);
  const passphrase = early ?? (await readSecret('Vault passphrase: ', { stdin: false }));
  try {
    await call('unlock', { passphrase });
  } finally {
    passphrase.fill(0);
  }
}

/** Pipelined requests that all meet the lock share one unlock (and one question). */
function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= run());
}

/**
 * Ends the direct session, if one runs: the vault is locked (every write is on disk before
 * it answered), the audit log flushed, the lease given back, the socket removed. `sigil run`
 * calls it once the references are resolved, before its command starts.
 */
export async function leaveDirect(): Promise<void> {
  const s = session;
  if (!s) return;
  session = null;
  useDirectAgent(null);
  s.passphrase?.fill(0);
  try {
    await s.agent.shutdown('direct command done');
  } finally {
    s.lease.release();
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/**
 * A new 0700 directory beside the agent's socket, named for this process: one left by a
 * direct command that was killed (its pid gone) is removed first.
 */
function privateDir(socketDir: string): string {
  prepareSocketDir(socketDir, true);
  for (const name of readdirSync(socketDir)) {
    const pid = /^direct-(\d+)-/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !isAlive(Number(pid))) rmSync(join(socketDir, name), { recursive: true, force: true });
  }
  return mkdtempSync(join(socketDir, `direct-${process.pid}-`)); // mkdtemp: 0700
}

/** "secret get" for `sigil secret get …`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
