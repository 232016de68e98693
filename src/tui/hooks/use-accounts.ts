import { useCallback, useEffect, useRef, useState } from 'react';
import type { AccountInfo } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';
import { useInterval } from './use-interval.js';

export interface AccountsState {
  accounts: AccountInfo[] | null;
  error: string | null;
  reload(): Promise<void>;
}

/** Account metadata (no secrets: it works while locked), polled so expiry and health stay current. */
export function useAccounts(): AccountsState {
  const { session, poll } = useDeps();
  const [accounts, setAccounts] = useState<AccountInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inflight = useRef<Promise<void> | null>(null);

  const reload = useCallback((): Promise<void> => {
    if (inflight.current) return inflight.current;
    const p = session
      .call<{ accounts: AccountInfo[] }>('list_accounts')
      .then(
        (r) => {
          setAccounts(r.accounts);
          setError(null);
        },
        (err: Error) => setError(err.message),
      )
      .finally(() => {
        inflight.current = null;
      });
    inflight.current = p;
    return p;
  }, [session]);

  useEffect(() => {
    void reload();
  }, [reload]);
  useInterval(() => void reload(), poll.accountsMs);
  return { accounts, error, reload };
}
