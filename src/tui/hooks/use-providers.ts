import { useEffect, useState } from 'react';
import type { ProviderInfo } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';

/** The providers the agent knows: built-in presets and config.toml, ready or not. */
export function useProviders(): { providers: ProviderInfo[] | null; error: string | null } {
  const { session } = useDeps();
  const [providers, setProviders] = useState<ProviderInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    session.call<{ providers: ProviderInfo[] }>('list_providers').then(
      (r) => live && setProviders(r.providers),
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [session]);
  return { providers, error };
}
