import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, numberArg, stringArg, type Args } from '../../protocol/messages.js';
import { checkAccount, checkService } from '../../protocol/names.js';
import { accountTarget, type OpTable } from '../op-table.js';

export function accountArgs(args: Args): { service: string; account: string } {
  return { service: checkService(stringArg(args, 'service')), account: checkAccount(stringArg(args, 'account')) };
}

export const tokenOps: OpTable = {
  get_token: {
    secret: true,
    audit: true,
    target: accountTarget,
    run({ state }, args) {
      const { service, account } = accountArgs(args);
      return state.tokens.getTokenNow(service, account) ?? state.tokens.getToken(service, account);
    },
  },

  set_token: {
    secret: true,
    audit: true,
    target: accountTarget,
    async run({ state }, args) {
      const { service, account } = accountArgs(args);
      const access = bytesArg(args, 'access_token');
      const refresh = args.refresh_token === undefined || args.refresh_token === null ? undefined : bytesArg(args, 'refresh_token');
      if (access.length === 0) throw new SigilError(ErrorCode.BAD_REQUEST, 'the token is empty');
      const tokenType = stringArg(args, 'token_type', { optional: true });
      let expiresAt = numberArg(args, 'expires_at');
      const expiresIn = numberArg(args, 'expires_in');
      if (expiresAt === undefined && expiresIn !== undefined) expiresAt = Math.floor(Date.now() / 1000) + expiresIn;
      try {
        const meta = await state.tokens.setToken(service, account, {
          access_token: access,
          ...(refresh ? { refresh_token: refresh } : {}),
          ...(tokenType ? { token_type: tokenType } : {}),
          ...(expiresAt !== undefined ? { expires_at: Math.floor(expiresAt) } : {}),
        });
        return { service, account, kind: meta.kind, expires_at: meta.expires_at ?? null };
      } finally {
        access.fill(0);
        refresh?.fill(0);
      }
    },
  },
};
