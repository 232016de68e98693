import { useCallback } from 'react';
import type { AddedProvider, ProviderInfo } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';
import { useLoaded } from './use-loaded.js';

/** What the "Custom OpenID issuer…" entry asks for. */
export interface CustomIssuer {
  name: string;
  issuer: string;
  client_id: string;
  scopes: string[];
}

/** Discovery may wait on a slow provider (the agent gives up after 30 s): wait a little longer. */
const ADD_PROVIDER_TIMEOUT_MS = 45_000;

export interface ProvidersControl {
  providers: ProviderInfo[] | null;
  error: string | null;
  /** Asks the agent for the list again (after add_provider). */
  reload(): Promise<void>;
  /** add_provider: the agent checks discovery, appends to config.toml, and the provider is usable at once. */
  add(custom: CustomIssuer): Promise<AddedProvider>;
}

/** The providers the agent knows: built-in presets and config.toml, ready or not. */
export function useProviders(): ProvidersControl {
  const { session } = useDeps();
  const { data, error, reload } = useLoaded(useCallback(() => session.call('list_providers'), [session]));

  const add = useCallback(
    (c: CustomIssuer) =>
      session.call(
        'add_provider',
        { name: c.name, issuer: c.issuer, client_id: c.client_id, ...(c.scopes.length ? { scopes: c.scopes } : {}) },
        { timeoutMs: ADD_PROVIDER_TIMEOUT_MS },
      ),
    [session],
  );

  return { providers: data?.providers ?? null, error, reload, add };
}
