import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { checkAccount, checkService } from '../../protocol/names.js';
import { call } from '../agent.js';
import { expiresInOption } from '../expires-in.js';
import { info, printJson } from '../output.js';
import { readSecret } from '../secret-input.js';

export async function tokenSet(service: string, account: string, opts: { stdin?: boolean; type?: string; expiresIn?: string }): Promise<void> {
  checkService(service);
  checkAccount(account);
  const expiresIn = expiresInOption(opts.expiresIn);
  const token = await readSecret(`Token for ${service}/${account}: `, { stdin: !!opts.stdin });
  try {
    await call('set_token', {
      service,
      account,
      access_token: token,
      ...(opts.type ? { token_type: opts.type } : {}),
      ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
    });
  } finally {
    token.fill(0);
  }
  info(`Stored a token for ${service}/${account}.`);
}

export async function tokenGet(service: string, account: string, opts: { format?: string; json?: boolean }): Promise<void> {
  const format = opts.json ? 'json' : (opts.format ?? 'bare');
  if (!['bare', 'header', 'json'].includes(format)) throw new SigilError(ErrorCode.BAD_REQUEST, `--format must be bare, header or json (got "${format}")`);
  const t = await call('get_token', { service: checkService(service), account: checkAccount(account) });
  if (format === 'json') return printJson(t);
  if (format === 'header') process.stdout.write(`Authorization: ${t.token_type} ${t.access_token}\n`);
  else process.stdout.write(t.access_token + '\n');
}

/** Makes sure a valid token exists (refreshing if due) without printing it: for scripts' set -e. */
export async function tokenEnsure(service: string, account: string, opts: { quiet?: boolean }): Promise<void> {
  const t = await call('get_token', { service: checkService(service), account: checkAccount(account) });
  if (!opts.quiet) info(t.expires_at === null ? `${service}/${account}: valid (does not expire)` : `${service}/${account}: valid until ${new Date(t.expires_at * 1000).toISOString()}`);
}

export async function tokenRefresh(service: string, account: string): Promise<void> {
  const r = await call('refresh_token', { service: checkService(service), account: checkAccount(account) });
  info(`Refreshed ${service}/${account}${r.expires_at === null ? '' : `; valid until ${new Date(r.expires_at * 1000).toISOString()}`}.`);
}
