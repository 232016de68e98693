/**
 * What Sigilforge keeps about a secret's current value besides the value: its expiry
 * (`sigil secret set NAME --expires-in 30d`).
 *
 * - A JSON record `{expires_at: ISO time}` at `sigilforge/_meta/{name}`, beside the value and
 *   written in the same all-or-nothing write (secret-history.ts's replaceSecret). No record:
 *   the value does not expire. A new value set without an expiry drops the record.
 * - It belongs to the current value: a replaced value's expiry goes into its history record,
 *   and a rollback brings it back with the value (a rolled-back temporary credential stays
 *   temporary).
 * - Its own prefix, as history's: list_secrets never sees it. SOPS files keep no Sigilforge
 *   metadata (sops-router.ts refuses a record under a file's prefix).
 */
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { META_PREFIX } from '../../protocol/names.js';
import type { SecretStore } from '../../stores/secret-store.js';

export function metaKey(name: string): string {
  return META_PREFIX + name;
}

/** When the current value of `name` expires (Unix seconds), or null when it does not. */
export async function readExpiry(store: SecretStore, name: string): Promise<number | null> {
  const raw = await store.get(metaKey(name));
  if (raw === null) return null;
  try {
    return parseExpiry(raw.toString('utf8'), name);
  } finally {
    raw.fill(0);
  }
}

export function metaRecord(expiresAt: number): Buffer {
  return Buffer.from(JSON.stringify({ expires_at: isoTime(expiresAt) }), 'utf8');
}

export function isoTime(unixS: number): string {
  return new Date(unixS * 1000).toISOString();
}

/** An expiry as errors name it: `2027-01-15T08:00:00Z` (UTC, no milliseconds). */
export function expiryText(unixS: number): string {
  return isoTime(unixS).replace(/\.\d+Z$/, 'Z');
}

/** An ISO `expires_at` as Unix seconds; INTERNAL when it is not a time. */
export function expirySeconds(iso: unknown, name: string): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) throw new SigilError(ErrorCode.INTERNAL, `the expiry of secret "${name}" is corrupt in the store`);
  return Math.floor(ms / 1000);
}

/** A `_meta` record's expiry (Unix seconds); INTERNAL when it holds none. */
export function parseExpiry(text: string, name: string): number {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = null;
  }
  return expirySeconds(typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).expires_at : undefined, name);
}
