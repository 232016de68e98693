import type { AccountInfo } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';
import { usePolledRequest } from './use-polled-request.js';

export interface AccountsState {
  accounts: AccountInfo[] | null;
  error: string | null;
  reload(): Promise<void>;
}

/** Account metadata (no secrets: it works while locked), polled so expiry and health stay current. */
export function useAccounts(): AccountsState {
  const { poll } = useDeps();
  const { data, error, again } = usePolledRequest('list_accounts', poll.accountsMs, { keepOnError: true });
  return { accounts: data?.accounts ?? null, error, reload: again };
}
