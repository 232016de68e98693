/**
 * The contract every secret backend keeps (vault, keyring, memory):
 *
 * - Keys are storage keys: `sigilforge/{service}/{account}/{credential_type}` for account
 *   credentials and `sigilforge/_secret/{name}` for free-form secrets.
 * - `get` returns null when the key is absent ("not mine"), and throws a SigilError when
 *   the backend is broken or unreachable ("mine but broken").
 * - `set` and `delete` resolve only once the change is durable: a caller may hand out a
 *   value derived from it (a rotated refresh token) as soon as the promise resolves. One
 *   that rejects changed nothing a reader can see: `get` answers what it answered before,
 *   as a restart would (the vault changes memory only after the write).
 * - Values are bytes, any bytes: text or not, they come back as they went in.
 * - Values are Buffers the caller owns: the store copies what it keeps, and callers may
 *   overwrite a returned Buffer once done with it.
 * - `list(prefix)` returns the keys starting with `prefix`, sorted.
 * - `close()` drops every decrypted value and key the store holds (overwriting Buffers);
 *   after it every other method throws LOCKED.
 */
export interface SecretStore {
  readonly name: string;
  get(key: string): Promise<Buffer | null>;
  /**
   * Optional: `get` answered synchronously, for stores that hold their values in memory
   * (vault, memory). The hot path (get_token) then needs no promise at all.
   */
  peek?(key: string): Buffer | null;
  set(key: string, value: Buffer): Promise<void>;
  delete(key: string): Promise<boolean>;
  /**
   * Optional: several sets and deletes made durable together — all of them or none, in one
   * step (the vault: one re-encryption and rename instead of one per change). Stores that
   * cannot promise all-or-nothing leave it out, and callers then order single writes.
   */
  writeBatch?(sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]): Promise<void>;
  list(prefix: string): Promise<string[]>;
  /**
   * Optional: the store for what must never leave this device (a synced vault's OAuth
   * tokens, src/sync). Absent: this store is the device's too. Closed with this store.
   */
  readonly device?: SecretStore;
  /** Number of keys held; cheap. */
  size(): number;
  close(): Promise<void>;
}

/** Sets and deletes together where the store can (one all-or-nothing write), else in order. */
export async function writeAll(store: SecretStore, sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]): Promise<void> {
  if (sets.length + deletes.length === 0) return;
  if (store.writeBatch) return store.writeBatch(sets, deletes);
  for (const [key, value] of sets) await store.set(key, value);
  for (const key of deletes) await store.delete(key);
}
