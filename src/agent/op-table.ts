import type { Args } from '../protocol/messages.js';
import { opFacts, OPS, type Op, type OpAnswer, type OpArgs } from '../protocol/op-catalog.js';
import type { AgentState } from './agent-state.js';
import type { Caller } from './caller/caller.js';

/** What a handler knows about the request beyond its arguments. */
export interface OpContext {
  state: AgentState;
  /** Who is on the other end, as the transport that accepted the connection found out. */
  caller: Caller;
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

/** How the dispatcher calls a handler: the op's types are the handler's own business. */
export type OpHandler = (ctx: OpContext, args: Args) => Promise<OpResult> | OpResult;

/**
 * A request's arguments as they arrive: named as the catalogue names them (a misspelt name
 * does not compile), their values not yet checked. A handler checks each (stringArg, bytesArg…)
 * before it uses it: typing them as the client promised would let one trust what it must check.
 */
export type Unchecked<A> = { readonly [K in keyof A]?: unknown };

/** The handler of op O: it answers what the catalogue says O answers. */
export interface TypedHandler<O extends Op> {
  run(ctx: OpContext, args: Unchecked<OpArgs<O>>): OpAnswer<O> | Promise<OpAnswer<O>>;
}

/** Handlers of some ops (src/agent/ops/*.ts); their facts and types are the catalogue's. */
export type OpHandlers = { readonly [O in Op]?: TypedHandler<O> };

/**
 * One entry per operation: the handler and the policy the dispatcher applies around it,
 * so that the lock check, the idle timer and the audit line are never forgotten by a
 * handler (ssh-agent's one lock check before dispatch).
 */
export interface OpSpec {
  run: OpHandler;
  /** Needs the unlocked store: LOCKED otherwise, and use restarts the idle countdown. */
  secret: boolean;
  /** Writes an audit line (time, caller, op, target, result). */
  audit: boolean;
  /** The audit target: names only, never a value. */
  target?(args: Args): string | undefined;
}

export type OpTable = Record<string, OpSpec>;

/**
 * The table the dispatcher runs: each handler with its op's facts from the catalogue. Throws
 * (at start-up) unless every catalogue op has exactly one handler and every handler an op.
 */
export function opTable(groups: readonly OpHandlers[]): OpTable {
  const table: OpTable = {};
  for (const group of groups) {
    for (const [op, handler] of Object.entries(group) as [string, { run: OpHandler }][]) {
      const facts = opFacts(op);
      if (!facts) throw new Error(`handler for "${op}", which the op catalogue does not list`);
      if (Object.hasOwn(table, op)) throw new Error(`two handlers for "${op}"`);
      table[op] = { run: handler.run, secret: facts.unlocked, audit: facts.audit, ...(facts.target ? { target: facts.target } : {}) };
    }
  }
  const missing = OPS.filter((op) => !Object.hasOwn(table, op));
  if (missing.length > 0) throw new Error(`no handler for ${missing.join(', ')}`);
  return table;
}
