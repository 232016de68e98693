import { useCallback, useEffect, useRef, useState } from 'react';
import type { SecretValue } from '../../cli/output.js';
import { useDeps } from './use-deps.js';

export interface SecretReveal {
  /** The value, only between a reveal and the next hide (or a change of secret). */
  value: SecretValue | null;
  busy: boolean;
  error: string | null;
  /** Reveals (get_secret: the agent audits it, and a confirm rule asks) or hides again. */
  toggle(): Promise<void>;
}

/**
 * One secret's value, asked of the agent only when the person reveals it. Hiding forgets it,
 * as do moving to another secret and leaving the screen (a lock leaves it too): it lives in
 * this hook's state only.
 */
export function useSecretReveal(name: string | undefined): SecretReveal {
  const { session } = useDeps();
  const [value, setValue] = useState<SecretValue | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  /** The secret the running get_secret is for: a late answer for another one is dropped. */
  const current = useRef(name);
  current.current = name;

  useEffect(() => {
    setValue(null);
    setError(null);
  }, [name]);

  const toggle = useCallback(async () => {
    if (value !== null) return setValue(null);
    if (name === undefined || busy) return;
    setBusy(true);
    setError(null);
    try {
      const r = await session.call('get_secret', { name });
      if (current.current === name) setValue(r.value);
    } catch (err) {
      if (current.current === name) setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }, [session, name, value, busy]);

  return { value, busy, error, toggle };
}
