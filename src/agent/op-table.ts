import type { Args } from '../protocol/messages.js';
import type { AgentState } from './agent-state.js';
import type { PeerCred } from '../util/peer-cred.js';

/** What a handler knows about the request beyond its arguments. */
export interface OpContext {
  state: AgentState;
  peer: PeerCred | null;
  /** The name the client gave in `hello` (e.g. "sigil-token"), if any. */
  client: string | undefined;
  /** Records the client's name for later audit lines on this connection. */
  setClient(name: string): void;
  /** Resolves when the connection closes, so long waits (flows) can stop early. */
  closed: Promise<void>;
  /**
   * Resolves when the client can send nothing more (it shut its side down, or the
   * connection closed): a TUI in that state can no longer answer a question put to it.
   */
  inputEnded: Promise<void>;
}

export type OpResult = Record<string, unknown>;

/**
 * One entry per operation: the handler and the policy the dispatcher applies around it,
 * so that the lock check, the idle timer and the audit line are never forgotten by a
 * handler (ssh-agent's one lock check before dispatch).
 */
export interface OpSpec {
  run(ctx: OpContext, args: Args): Promise<OpResult> | OpResult;
  /** Needs the unlocked store: LOCKED otherwise, and use restarts the idle countdown. */
  secret: boolean;
  /** Writes an audit line (time, peer, op, target, result). */
  audit: boolean;
  /** The audit target: names only, never a value. */
  target?(args: Args): string | undefined;
}

export type OpTable = Record<string, OpSpec>;

export function str(args: Args, name: string): string | undefined {
  const v = args[name];
  return typeof v === 'string' ? v.slice(0, 200) : undefined;
}

export function accountTarget(args: Args): string | undefined {
  const s = str(args, 'service');
  const a = str(args, 'account');
  return s && a ? `${s}/${a}` : s;
}
