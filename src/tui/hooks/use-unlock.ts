import { useCallback, useState } from 'react';
import type { SigilError } from '../../protocol/errors.js';
import { useDeps } from './use-deps.js';

export interface UnlockState {
  busy: boolean;
  /** The agent's refusal: BAD_PASSPHRASE, RATE_LIMITED (with its wait), or anything else. */
  error: UnlockError | null;
  /** Resolves true when the agent is unlocked. No passphrase: the one remembered in the OS keyring. */
  unlock(passphrase?: string): Promise<boolean>;
}

export interface UnlockError {
  code: string;
  message: string;
  /** RATE_LIMITED: when (deps.now) the agent takes the next attempt, from its `retry_after_s`. */
  retryAt?: number;
}

export function useUnlock(onUnlocked: () => void): UnlockState {
  const { session, now } = useDeps();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UnlockState['error']>(null);

  const unlock = useCallback(
    async (passphrase?: string): Promise<boolean> => {
      // Bytes on the wire, wiped once sent; the string itself cannot be wiped in JS.
      const bytes = Buffer.from(passphrase ?? '', 'utf8');
      setBusy(true);
      setError(null);
      try {
        await session.call('unlock', passphrase === undefined ? {} : { passphrase: bytes });
        onUnlocked();
        return true;
      } catch (err) {
        const e = err as SigilError;
        const wait = e.details.retry_after_s;
        setError({ code: e.code, message: e.message, ...(wait === undefined ? {} : { retryAt: now() + wait * 1000 }) });
        return false;
      } finally {
        bytes.fill(0);
        setBusy(false);
      }
    },
    [session, now, onUnlocked],
  );
  return { busy, error, unlock };
}
