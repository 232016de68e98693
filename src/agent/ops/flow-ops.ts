import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { stringArg, type Args } from '../../protocol/messages.js';
import type { OpHandlers } from '../op-table.js';
import { accountArgs } from './token-ops.js';

function scopesArg(args: Args): string[] | undefined {
  const v = args.scopes;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && /^[\x21-\x7e]+$/.test(s))) {
    throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "scopes" must be a list of scope names');
  }
  return v as string[];
}

export const flowOps = {
  start_flow: {
    run({ state }, args) {
      const { service, account } = accountArgs(args);
      const kind = stringArg(args, 'kind', { optional: true }) ?? 'auth_code';
      if (kind !== 'auth_code' && kind !== 'device') throw new SigilError(ErrorCode.BAD_REQUEST, `flow kind must be "auth_code" or "device" (got "${kind.slice(0, 20)}")`);
      return state.flows.start(service, account, kind, scopesArg(args));
    },
  },

  wait_flow: {
    // Input ended, not closed: a killed client's connection stays open here until its answers
    // are out (half-open), and a waiter that can send nothing more has gone.
    async run({ state, inputEnded }, args) {
      return { ...(await state.flows.wait(stringArg(args, 'flow_id'), inputEnded)) };
    },
  },

  cancel_flow: {
    run({ state }, args) {
      return { cancelled: state.flows.cancel(stringArg(args, 'flow_id')) };
    },
  },

  refresh_token: {
    async run({ state }, args) {
      const { service, account } = accountArgs(args);
      const t = await state.credentials.tokens.refresh(service, account);
      return { service, account, expires_at: t.expires_at };
    },
  },
} satisfies OpHandlers;
