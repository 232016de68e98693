import { ErrorCode } from '../protocol/codes.js';
import { SigilError, toSigilError } from '../protocol/errors.js';
import type { Request } from '../protocol/messages.js';
import type { OpContext, OpResult, OpSpec, OpTable } from './op-table.js';

export type Outcome = OpResult | SigilError;

/**
 * Runs one request: unknown op, per-client policy ([[policy]]: what a forwarded caller may
 * use, allowed programs, then the lock check, then the person's confirmation), handler,
 * idle timer, audit line. Never throws: every failure becomes a SigilError with a message fit
 * for the wire (unexpected errors are logged locally and answered as a generic INTERNAL, never
 * with their text or stack).
 *
 * A handler that answers synchronously gets a synchronous outcome: the hot path (get_token
 * from memory) then costs no promise or microtask at all.
 */
export function dispatch(table: OpTable, ctx: OpContext, req: Request): Outcome | Promise<Outcome> {
  const spec = Object.hasOwn(table, req.op) ? table[req.op] : undefined;
  if (!spec) return new SigilError(ErrorCode.UNKNOWN_OP, `unknown operation "${req.op.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"`);
  let answer: OpResult | Promise<OpResult>;
  try {
    // Per-client policy first: a refused client is told so, not asked to unlock for nothing.
    // A forwarded caller meets the catalogue's `forwarded` fact of the op there too.
    const confirm = ctx.state.policy.check(req.op, req.args, ctx.caller);
    if (spec.secret) ctx.state.lock.requireStore();
    answer = confirm ? confirmThenRun(spec, ctx, req, confirm.target) : spec.run(ctx, req.args);
  } catch (err) {
    return finish(spec, ctx, req, failure(ctx, req, err));
  }
  if (answer instanceof Promise) {
    return answer.then(
      (result) => finish(spec, ctx, req, result),
      (err: unknown) => finish(spec, ctx, req, failure(ctx, req, err)),
    );
  }
  return finish(spec, ctx, req, answer);
}

/** `confirm = true`: the person is asked (and the agent may have locked meanwhile) before the handler runs. */
async function confirmThenRun(spec: OpSpec, ctx: OpContext, req: Request, target: string): Promise<OpResult> {
  await ctx.state.confirmations.ask({ target, op: req.op, caller: ctx.caller, client: ctx.client }, ctx.closed);
  if (spec.secret) ctx.state.lock.requireStore();
  return spec.run(ctx, req.args);
}

function failure(ctx: OpContext, req: Request, err: unknown): SigilError {
  if (!(err instanceof SigilError)) ctx.state.log(internalErrorLine(req.op, err));
  return toSigilError(err, `internal error in ${req.op}`);
}

/**
 * The log line for a bug: the error's class and where it was thrown, not its message. A
 * message may quote the data at hand (JSON.parse quotes its input), and the line goes to
 * agent.log, a file that outlives the unlock.
 */
export function internalErrorLine(op: string, err: unknown): string {
  const name = err instanceof Error ? err.name : typeof err;
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  return `internal error in ${op}: ${name}${frames.length > 0 ? `\n${frames.join('\n')}` : ''}`;
}

function finish(spec: OpSpec, ctx: OpContext, req: Request, outcome: Outcome): Outcome {
  // One reading of the clock for the idle countdown and the audit line (a clock read is not
  // free on every machine, and get_token makes few other calls).
  const now = ctx.state.clock.now();
  if (spec.secret && !(outcome instanceof SigilError)) ctx.state.lock.used(now);
  // What a caller on another machine was refused is worth a line even for ops that write none.
  if (spec.audit || (ctx.caller.forwarded && outcome instanceof SigilError && outcome.code === ErrorCode.FORBIDDEN)) {
    ctx.state.audit.record(
      {
        op: req.op,
        target: spec.target?.(req.args),
        result: outcome instanceof SigilError ? outcome.code : 'ok',
        caller: ctx.caller,
        client: ctx.client,
      },
      now,
    );
  }
  return outcome;
}
