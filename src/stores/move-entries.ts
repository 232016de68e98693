import { writeAll, type SecretStore } from './secret-store.js';

/**
 * Moves what `from` holds into `to`: for switching `[storage] primary` from the vault to the
 * OS keyring without losing access to anything stored before.
 *
 * Copies first, removes after: a crash in between leaves entries in both stores and the next
 * move finishes the job — an entry is never only in flight. An entry `to` already holds stays
 * as `to` has it (it was written there while `to` was primary, so it is the newer one) and is
 * dropped from `from` all the same. Returns how many entries were copied.
 */
export async function moveEntries(from: SecretStore, to: SecretStore): Promise<number> {
  const keys = await from.list('');
  if (keys.length === 0) return 0;
  const present = new Set(await to.list(''));
  let copied = 0;
  for (const key of keys) {
    if (present.has(key)) continue;
    const value = await from.get(key);
    if (value === null) continue;
    try {
      await to.set(key, value);
      copied++;
    } finally {
      value.fill(0);
    }
  }
  await writeAll(from, [], keys);
  return copied;
}
