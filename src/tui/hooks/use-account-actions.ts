import { useCallback, useState } from 'react';
import { formatDuration } from '../../util/duration.js';
import { removalText } from '../../cli/removal-text.js';
import type { AccountInfo } from '../../protocol/results.js';
import type { Tone } from '../format.js';
import { useDeps } from './use-deps.js';

export interface ActionOutcome {
  tone: Tone;
  message: string;
}

export interface AccountActions {
  /** The action running now ("refresh github/work"), for a busy indicator. */
  busy: string | null;
  refresh(a: AccountInfo): Promise<ActionOutcome>;
  remove(a: AccountInfo): Promise<ActionOutcome>;
  /** Why the account cannot be signed in again (a static token), or null when it can. */
  authorizeRefusal(a: AccountInfo): string | null;
}

/** The account actions of the accounts and details screens: refresh now, remove, re-authorize. */
export function useAccountActions(onChanged: () => void): AccountActions {
  const { session, now } = useDeps();
  const [busy, setBusy] = useState<string | null>(null);

  const run = useCallback(
    async (label: string, fn: () => Promise<string>): Promise<ActionOutcome> => {
      setBusy(label);
      try {
        const message = await fn();
        onChanged();
        return { tone: 'ok', message };
      } catch (err) {
        return { tone: 'bad', message: `${label}: ${(err as Error).message}` };
      } finally {
        setBusy(null);
      }
    },
    [onChanged],
  );

  const refresh = useCallback(
    async (a: AccountInfo): Promise<ActionOutcome> => {
      const { service, account } = a;
      if (a.kind === 'static') return { tone: 'warn', message: `${service}/${account} is a static token: there is nothing to refresh.` };
      return run(`refresh ${service}/${account}`, async () => {
        const r = await session.call('refresh_token', { service, account });
        const left = r.expires_at === null ? null : r.expires_at - Math.floor(now() / 1000);
        return `Refreshed ${service}/${account}${left === null ? '' : `; the new token expires in ${formatDuration(left)}`}`;
      });
    },
    [run, session, now],
  );

  const remove = useCallback(
    (a: AccountInfo) =>
      run(`remove ${a.service}/${a.account}`, async () => {
        return removalText(await session.call('remove_account', { service: a.service, account: a.account }));
      }),
    [run, session],
  );

  const authorizeRefusal = useCallback(
    (a: AccountInfo) => (a.kind === 'static' ? `${a.service}/${a.account} is a static token: set it again with sigil token set ${a.service} ${a.account}` : null),
    [],
  );

  return { busy, refresh, remove, authorizeRefusal };
}
