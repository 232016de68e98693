import { writeAll, type SecretStore } from '../../stores/secret-store.js';

/** What a change does to an account's credentials in the store. */
export interface CredentialChange {
  sets: Array<[string, Buffer]>;
  deletes: string[];
}

/**
 * Changes an account's credentials, then its metadata (accounts.toml), so the two never
 * disagree after a failure:
 *
 * - Credentials first: accounts.toml must never list a token the store lacks ("has no
 *   access token"), while credentials nothing lists yet are merely invisible.
 * - Each write changes nothing when it fails (the vault and the registry make memory follow
 *   the disk only after a durable write), so a failed credential write leaves both as they were.
 * - When the metadata write fails after the credentials were written, `undo` puts the
 *   credentials back as they were (for the vault a write that shrinks back, which its space
 *   reserve lets through on a full disk). Without `undo` (a refresh: the old refresh token is
 *   spent at the provider, putting it back would sign the account out) they stay.
 *
 * An undo that fails too is reported to `log` (key names only); the first error is thrown.
 */
export async function writeAccount<T>(
  store: SecretStore,
  change: CredentialChange,
  writeMeta: () => Promise<T>,
  opts: { undo: boolean; log: (msg: string) => void },
): Promise<T> {
  const keys = [...change.sets.map(([key]) => key), ...change.deletes];
  const before = opts.undo ? await Promise.all(keys.map((key) => store.get(key))) : [];
  try {
    await writeAll(store, change.sets, change.deletes);
    try {
      return await writeMeta();
    } catch (err) {
      if (opts.undo) {
        const restore = keys.flatMap((key, i): Array<[string, Buffer]> => (before[i] ? [[key, before[i]]] : []));
        const remove = keys.filter((_, i) => !before[i]);
        await writeAll(store, restore, remove).catch((undoErr: unknown) => {
          opts.log(`could not put back ${keys.join(', ')} after the account metadata write failed: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}`);
        });
      }
      throw err;
    }
  } finally {
    for (const value of before) value?.fill(0);
  }
}
