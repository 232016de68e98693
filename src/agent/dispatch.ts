import { ErrorCode } from '../protocol/codes.js';
import { SigilError, toSigilError } from '../protocol/errors.js';
import type { Request } from '../protocol/messages.js';
import type { OpContext, OpResult, OpTable } from './op-table.js';

/**
 * Runs one request: unknown op, lock check, handler, idle timer, audit line. Never throws:
 * every failure becomes a SigilError with a message fit for the wire (unexpected errors are
 * logged locally and answered as a generic INTERNAL, never with their text or stack).
 */
export async function dispatch(table: OpTable, ctx: OpContext, req: Request): Promise<OpResult | SigilError> {
  const spec = Object.hasOwn(table, req.op) ? table[req.op] : undefined;
  if (!spec) return new SigilError(ErrorCode.UNKNOWN_OP, `unknown operation "${req.op.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"`);
  let outcome: OpResult | SigilError;
  try {
    if (spec.secret) ctx.state.requireStore();
    outcome = await spec.run(ctx, req.args);
    if (spec.secret) ctx.state.used();
  } catch (err) {
    if (!(err instanceof SigilError)) ctx.state.log(`internal error in ${req.op}: ${(err as Error)?.stack ?? String(err)}`);
    outcome = toSigilError(err, `internal error in ${req.op}`);
  }
  if (spec.audit) {
    ctx.state.audit.record({
      op: req.op,
      target: spec.target?.(req.args),
      result: outcome instanceof SigilError ? outcome.code : 'ok',
      peer: ctx.peer,
      client: ctx.client,
    });
  }
  return outcome;
}
