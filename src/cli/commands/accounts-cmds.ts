import { checkAccount, checkService } from '../../protocol/names.js';
import { formatDuration } from '../../util/duration.js';
import type { AccountInfo } from '../../protocol/results.js';
import { call } from '../agent.js';
import { formatTime, info, printJson, printTable } from '../output.js';
import { removalText } from '../removal-text.js';

function health(a: AccountInfo): string {
  if (a.status === 'needs_auth') return 'needs auth';
  if (a.status === 'sign_in_here') return 'sign in on this device';
  if (a.expires_at !== null && a.status !== 'expired') {
    return `expires in ${formatDuration(a.expires_at - Date.now() / 1000)}`;
  }
  return a.status;
}

export async function accountsList(opts: { json?: boolean }): Promise<void> {
  const { accounts } = await call('list_accounts');
  if (opts.json) return printJson(accounts);
  if (accounts.length === 0) {
    info('No accounts yet. Add a token with: sigil token set SERVICE ACCOUNT');
    return;
  }
  printTable(
    ['SERVICE', 'ACCOUNT', 'KIND', 'STATUS', 'LAST USED'],
    accounts.map((a) => [a.service, a.account, a.kind, health(a), formatTime(a.last_used)]),
  );
}

export async function accountsRemove(service: string, account: string, opts: { json?: boolean } = {}): Promise<void> {
  const r = await call('remove_account', { service: checkService(service), account: checkAccount(account) });
  if (opts.json) return printJson(r);
  info(removalText(r));
}
