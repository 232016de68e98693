import { useCallback } from 'react';
import { useDeps } from './use-deps.js';
import { useLoaded } from './use-loaded.js';

export interface SecretRow {
  name: string;
  /** Unix seconds; null: it does not expire. */
  expires_at: number | null;
  /** Previous versions kept (secret_history lists them). */
  versions: number;
}

export interface SecretsState {
  secrets: SecretRow[] | null;
  error: string | null;
  reload(): Promise<void>;
}

/**
 * The secrets' names, expiries and version counts (list_secrets: never a value). Asked once
 * per visit and after each change, not polled: list_secrets needs the unlocked vault, so it
 * counts as use, and a poll would keep an idle agent from locking.
 */
export function useSecrets(): SecretsState {
  const { session } = useDeps();
  const load = useCallback(
    () =>
      session
        .call('list_secrets', {})
        .then((r): SecretRow[] => r.names.map((name) => ({ name, expires_at: r.expires_at?.[name] ?? null, versions: r.versions?.[name] ?? 0 }))),
    [session],
  );
  const { data, error, reload } = useLoaded(load);
  return { secrets: data, error, reload };
}
