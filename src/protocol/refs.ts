import { ErrorCode } from './codes.js';
import { SigilError } from './errors.js';
import { terminalText } from '../util/terminal-text.js';
import { checkAccount, checkCredentialType, checkSecretName, checkService } from './names.js';

/**
 * `auth://service/account[/credential_type]` and `secret://name` references. The default
 * credential of an auth ref is the access token, refreshed as `sigil-token` would.
 */
export type Ref =
  | { scheme: 'auth'; service: string; account: string; credential: string }
  | { scheme: 'secret'; name: string };

export function parseRef(text: string): Ref {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/.exec(text);
  if (!m) throw refError(text, 'expected auth://service/account[/type] or secret://name');
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === 'secret') {
    if (!rest) throw refError(text, 'the secret name is missing');
    return { scheme: 'secret', name: wrap(text, () => checkSecretName(rest)) };
  }
  if (scheme !== 'auth') throw refError(text, `unknown scheme "${scheme}://" (use auth:// or secret://)`);
  const parts = rest.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw refError(text, 'expected auth://service/account or auth://service/account/type');
  }
  const [service, account, credential = 'access_token'] = parts as [string, string, string?];
  return {
    scheme: 'auth',
    service: wrap(text, () => checkService(service)),
    account: wrap(text, () => checkAccount(account)),
    credential: wrap(text, () => checkCredentialType(credential)),
  };
}

export function formatRef(ref: Ref): string {
  return ref.scheme === 'secret' ? `secret://${ref.name}` : `auth://${ref.service}/${ref.account}/${ref.credential}`;
}

function refError(text: string, why: string): SigilError {
  return new SigilError(ErrorCode.BAD_REQUEST, `invalid reference "${terminalText(text, { max: 100 })}": ${why}`);
}

function wrap(text: string, check: () => string): string {
  try {
    return check();
  } catch (err) {
    throw refError(text, (err as Error).message);
  }
}
