/**
 * Secret history: the values a secret had before, kept in the same store as the secret.
 *
 * - A replaced value goes to `sigilforge/_history/{name}/{n}`: a JSON record
 *   `{value: base64, replaced_at: ISO time, version: n}`, and `expires_at` (ISO time) when
 *   that value had an expiry (secret-meta.ts), which a rollback restores. `n` counts up per secret (the
 *   highest kept version + 1), so a version number names one value for as long as it is kept.
 *   Numbering starts again at 1 only when a secret has no history left (deleted, or history = 0).
 * - Names may hold "/" (`db/prod/password`), so the history of "db" and of "db/1" share a
 *   key prefix; a key belongs to the name before its last "/", and the version is all digits.
 * - The record of the old value is durable no later than the new value: in one
 *   all-or-nothing write where the store offers one (the vault), else written first (store.set
 *   resolves once durable), so a crash in between leaves the old value twice, never lost.
 * - Then the history is pruned to the newest `limit` versions; limit 0 keeps none.
 * - History lives under its own prefix, not under `sigilforge/_secret/`: list_secrets never sees it.
 * - Changes to one secret's value and history run one after another (version numbers).
 */
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { HISTORY_PREFIX, secretKey } from '../../protocol/names.js';
import type { SecretStore } from '../../stores/secret-store.js';
import { expirySeconds, isoTime, metaKey, metaRecord, readExpiry } from './secret-meta.js';

export interface HistoryVersion {
  version: number;
  replaced_at: string;
}

interface HistoryRecord extends HistoryVersion {
  value: Buffer;
  /** When this value expired or expires (Unix seconds), if it had an expiry. */
  expiresAt: number | null;
}

/** A version as a history key spells it (also read by the sync merge, src/sync/vault-merge.ts). */
export const VERSION = /^[1-9][0-9]{0,14}$/;

export function historyPrefix(name: string): string {
  return `${HISTORY_PREFIX}${name}/`;
}

export function historyKey(name: string, version: number): string {
  return `${historyPrefix(name)}${version}`;
}

/** The versions kept for `name`, oldest first. */
export async function historyVersions(store: SecretStore, name: string): Promise<number[]> {
  const prefix = historyPrefix(name);
  const keys = await store.list(prefix);
  return keys
    .map((k) => k.slice(prefix.length))
    .filter((rest) => VERSION.test(rest))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * How many versions are kept of each secret whose name starts with `prefix`, from one listing
 * of the keys (no record is read): what list_secrets shows beside the names.
 */
export async function historyCounts(store: SecretStore, prefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const key of await store.list(HISTORY_PREFIX + prefix)) {
    // The name is what comes before the last "/": "db/1/2" is version 2 of "db/1".
    const rest = key.slice(HISTORY_PREFIX.length);
    const cut = rest.lastIndexOf('/');
    if (cut <= 0 || !VERSION.test(rest.slice(cut + 1))) continue;
    const name = rest.slice(0, cut);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** Reads one version; null when it is not kept. The caller owns (and wipes) `value`. */
export async function readVersion(store: SecretStore, name: string, version: number): Promise<HistoryRecord | null> {
  const raw = await store.get(historyKey(name, version));
  if (raw === null) return null;
  try {
    return parseRecord(raw, name, version);
  } finally {
    raw.fill(0);
  }
}

/** The kept versions of `name`, newest first, without their values. */
export async function listHistory(store: SecretStore, name: string): Promise<HistoryVersion[]> {
  const out: HistoryVersion[] = [];
  for (const version of (await historyVersions(store, name)).reverse()) {
    const rec = await readVersion(store, name, version);
    if (!rec) continue; // deleted meanwhile
    rec.value.fill(0);
    out.push({ version: rec.version, replaced_at: rec.replaced_at });
  }
  return out;
}

/**
 * Records `old` (the value being replaced; the caller's, not wiped here) as the next version
 * of `name`, durably, unless `limit` is 0. Returns the version written, or null.
 */
async function pushHistory(store: SecretStore, name: string, old: Buffer, oldExpiry: number | null, limit: number, now: Date): Promise<number | null> {
  if (limit <= 0) return null;
  const versions = await historyVersions(store, name);
  const version = (versions.at(-1) ?? 0) + 1;
  const record = historyRecord(old, oldExpiry, version, now);
  try {
    await store.set(historyKey(name, version), record);
  } finally {
    record.fill(0);
  }
  return version;
}

export function historyRecord(old: Buffer, oldExpiry: number | null, version: number, now: Date): Buffer {
  const expiry = oldExpiry !== null ? { expires_at: isoTime(oldExpiry) } : {};
  return Buffer.from(JSON.stringify({ value: old.toString('base64'), replaced_at: now.toISOString(), version, ...expiry }), 'utf8');
}

/** Deletes all but the newest `limit` versions of `name`. */
async function pruneHistory(store: SecretStore, name: string, limit: number): Promise<void> {
  const versions = await historyVersions(store, name);
  const drop = versions.slice(0, Math.max(0, versions.length - Math.max(0, limit)));
  // Together: the vault folds concurrent deletes into one or two writes.
  await Promise.all(drop.map((v) => store.delete(historyKey(name, v))));
}

/** Deletes every kept version of `name`; returns how many there were. */
export async function deleteHistory(store: SecretStore, name: string): Promise<number> {
  const versions = await historyVersions(store, name);
  await Promise.all(versions.map((v) => store.delete(historyKey(name, v))));
  return versions.length;
}

/**
 * Replaces the current value of `name` with `value` (the caller's) and its expiry with
 * `expiresAt` (Unix seconds; null: none), keeping the value it replaces and that value's
 * expiry as history first (replaced at `now`). Says whether a value existed, and the version it was kept as.
 */
export async function replaceSecret(store: SecretStore, name: string, value: Buffer, limit: number, now: Date, expiresAt: number | null = null): Promise<{ existed: boolean; savedAs: number | null }> {
  const key = secretKey(name);
  const oldExpiry = await readExpiry(store, name);
  const meta = expiresAt !== null ? metaRecord(expiresAt) : null;
  const old = await store.get(key);
  try {
    if (!store.writeBatch) {
      const savedAs = old ? await pushHistory(store, name, old, oldExpiry, limit, now) : null;
      // The expiry before the value: a store that keeps none (a SOPS file) refuses it before any change.
      if (meta) await store.set(metaKey(name), meta);
      else if (oldExpiry !== null) await store.delete(metaKey(name));
      await store.set(key, value);
      await pruneHistory(store, name, limit);
      return { existed: old !== null, savedAs };
    }
    // The old value as a version, the new value and the pruning in one all-or-nothing write.
    const versions = await historyVersions(store, name);
    let savedAs: number | null = null;
    const sets: [string, Buffer][] = [];
    try {
      if (old && limit > 0) {
        savedAs = (versions.at(-1) ?? 0) + 1;
        sets.push([historyKey(name, savedAs), historyRecord(old, oldExpiry, savedAs, now)]);
        versions.push(savedAs);
      }
      sets.push([key, value]);
      if (meta) sets.push([metaKey(name), meta]);
      const drop = versions.slice(0, Math.max(0, versions.length - Math.max(0, limit)));
      await store.writeBatch(sets, [...drop.map((v) => historyKey(name, v)), ...(!meta && oldExpiry !== null ? [metaKey(name)] : [])]);
    } finally {
      if (savedAs !== null) sets[0]![1].fill(0);
    }
    return { existed: old !== null, savedAs };
  } finally {
    old?.fill(0);
  }
}

/**
 * Runs `fn` after every earlier change to `name` in `store` has finished: reading the
 * highest version and writing the next one must not interleave with another change.
 */
const queues = new WeakMap<SecretStore, Map<string, Promise<unknown>>>();
export function serialized<T>(store: SecretStore, name: string, fn: () => Promise<T>): Promise<T> {
  let perStore = queues.get(store);
  if (!perStore) queues.set(store, (perStore = new Map()));
  const prev = perStore.get(name) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  perStore.set(name, tail);
  void tail.then(() => {
    if (perStore.get(name) === tail) perStore.delete(name);
  });
  return run;
}

function parseRecord(raw: Buffer, name: string, version: number): HistoryRecord {
  const corrupt = () => new SigilError(ErrorCode.INTERNAL, `version ${version} of secret "${name}" is corrupt in the store`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    throw corrupt(); // never the SyntaxError's message: it quotes the input
  }
  if (typeof doc !== 'object' || doc === null) throw corrupt();
  const { value, replaced_at, version: v, expires_at } = doc as Record<string, unknown>;
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || typeof replaced_at !== 'string') throw corrupt();
  if (v !== undefined && v !== version) throw corrupt();
  const expiresAt = expires_at === undefined ? null : expirySeconds(expires_at, name);
  return { value: Buffer.from(value, 'base64'), replaced_at, version, expiresAt };
}
