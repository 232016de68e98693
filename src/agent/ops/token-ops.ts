import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, numberArg, stringArg, type Args } from '../../protocol/messages.js';
import { checkAccount, checkService } from '../../protocol/names.js';
import { authScheme, MAX_EXPIRES_IN_S } from '../../protocol/token-rules.js';
import { nowS } from '../clock.js';
import type { OpHandlers } from '../op-table.js';

export function accountArgs(args: Args): { service: string; account: string } {
  return { service: checkService(stringArg(args, 'service')), account: checkAccount(stringArg(args, 'account')) };
}

/** set_token's expiry, from `expires_at` (Unix seconds) or `expires_in` (seconds from now), bounded to ten years. */
function expiryArg(args: Args, nowS: number): number | undefined {
  const at = numberArg(args, 'expires_at');
  if (at !== undefined) {
    if (at < 0 || at > nowS + MAX_EXPIRES_IN_S) throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "expires_at" must be a time in Unix seconds at most 10 years from now');
    return Math.floor(at);
  }
  const expiresIn = numberArg(args, 'expires_in');
  if (expiresIn === undefined) return undefined;
  if (expiresIn < 0 || expiresIn > MAX_EXPIRES_IN_S) throw new SigilError(ErrorCode.BAD_REQUEST, `argument "expires_in" must be between 0 and ${MAX_EXPIRES_IN_S} seconds (10 years)`);
  return nowS + Math.floor(expiresIn);
}

export const tokenOps = {
  get_token: {
    run({ state }, args) {
      const { service, account } = accountArgs(args);
      const { tokens } = state.credentials;
      return tokens.getTokenNow(service, account) ?? tokens.getToken(service, account);
    },
  },

  set_token: {
    async run({ state }, args) {
      const { service, account } = accountArgs(args);
      const access = bytesArg(args, 'access_token');
      const refresh = args.refresh_token === undefined || args.refresh_token === null ? undefined : bytesArg(args, 'refresh_token');
      if (access.length === 0) throw new SigilError(ErrorCode.BAD_REQUEST, 'the token is empty');
      try {
        const tokenType = stringArg(args, 'token_type', { optional: true });
        const expiresAt = expiryArg(args, nowS(state.clock));
        if (tokenType && !authScheme(tokenType)) {
          throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "token_type" must be an HTTP authentication scheme such as Bearer (letters, digits and -._~+/ only)');
        }
        const meta = await state.credentials.tokens.setToken(service, account, {
          access_token: access,
          ...(refresh ? { refresh_token: refresh } : {}),
          ...(tokenType ? { token_type: tokenType } : {}),
          ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
        });
        return { service, account, kind: meta.kind, expires_at: meta.expires_at ?? null };
      } finally {
        access.fill(0);
        refresh?.fill(0);
      }
    },
  },
} satisfies OpHandlers;
