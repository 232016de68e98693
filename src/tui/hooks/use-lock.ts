import { useCallback } from 'react';
import { useDeps } from './use-deps.js';

/** `lock` now: the agent drops every decrypted secret. Resolves with an error message, if any. */
export function useLock(onLocked: () => void): () => Promise<string | null> {
  const { session } = useDeps();
  return useCallback(async () => {
    try {
      await session.call('lock');
      onLocked();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }, [session, onLocked]);
}
