import { useCallback, useEffect, useState } from 'react';
import { maskToken } from '../format.js';
import { useDeps } from './use-deps.js';

export interface TokenPeek {
  /** What to print: nothing until fetched, then masked until revealed. */
  shown: string | null;
  revealed: boolean;
  busy: boolean;
  error: string | null;
  expiresAt: number | null;
  fetch(): Promise<void>;
  toggleReveal(): void;
}

/**
 * The access token of one account, fetched only when asked (`t`) and kept masked until the
 * person reveals it (`v`). It lives in this hook's state only: leaving the screen drops it.
 */
export function useTokenPeek(service: string, account: string): TokenPeek {
  const { session } = useDeps();
  const [token, setToken] = useState<string | null>(null);
  const [expiresAt, setExpiresAt] = useState<number | null>(null);
  const [revealed, setRevealed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setToken(null);
    setRevealed(false);
  }, [service, account]);

  const fetch = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await session.call('get_token', { service, account });
      setToken(r.access_token);
      setExpiresAt(r.expires_at);
      setRevealed(false);
    } catch (err) {
      setToken(null);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }, [session, service, account]);

  const toggleReveal = useCallback(() => setRevealed((r) => !r), []);
  const shown = token === null ? null : revealed ? token : maskToken(token);
  return { shown, revealed: revealed && token !== null, busy, error, expiresAt, fetch, toggleReveal };
}
