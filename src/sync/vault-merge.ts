/**
 * The three-way merge of two devices' vaults (issue 12: "offline edits on two machines merge
 * without losing a write"). Pure: entries in, entries out; no files, no git, no clock.
 *
 * - Each key is merged against `base`, the vault at the last common sync: a side equal to it
 *   (same bytes and same `updated`) takes the other side's version, its deletion included.
 *   Without a base (a first sync) a key on one side only is kept: nothing is known to be deleted.
 * - A secret's value and its `_meta` record (its expiry) are one unit: the expiry comes from
 *   the side whose value wins, never from the other.
 * - A secret changed on both sides: the later `updated` is current, and the other value
 *   becomes the newest history version (with its own expiry, replaced at the winner's
 *   `updated`), so `sigil secret rollback` brings it back. The same value and expiry written
 *   on both is no conflict: there is nothing to keep of the earlier write.
 * - Deleted on one side, edited on the other: the deletion stands (someone removed the secret
 *   on purpose) and the edit becomes the newest history version, replaced at its own `updated`
 *   (a deletion leaves no time behind). History outlives its value: `sigil secret history NAME`
 *   lists it and a rollback restores it (secrets.ts reads history without a current value);
 *   `sigil secret rm NAME` removes it. The edit side's other new records stay too.
 * - History records merge key by key as above; a record deleted on one side and rewritten on the
 *   other is kept. Both sides wrote a different record under one version (both replaced the
 *   secret offline): the record that sorts first (replaced_at, then bytes) keeps the number and
 *   the other takes the next free one, unless it holds the same value and expiry (the same old
 *   value, replaced on both sides: it is kept once, the earlier replacement). A record already
 *   kept under another number (an earlier merge renumbered it) is not added again.
 * - History combined from both sides is pruned to the newest `historyLimit` versions; history
 *   taken whole from one side stays as that side kept it, so merging again changes nothing.
 *   The version that holds a conflict's loser is not pruned, even with limit 0: the merge, not
 *   a person, replaced that value (report.conflicts names it); on a device with history 0 the
 *   secret's next write prunes it.
 * - Opaque keys (account credentials and metadata, anything else): changed on both sides, the
 *   later `updated` wins, without history; deleted on one and changed on the other, the change
 *   stays (with no history to keep it in, the deletion would lose a write).
 * - Ties go by the bytes, and nothing depends on which side is "ours", on the time of the merge
 *   (`opts.now` is not read for that reason) or on the maps' order: merging (base, A, B) and
 *   (base, B, A) with the same historyLimit gives the same entries, in key order, byte for byte.
 */
import { VERSION, historyKey, historyRecord } from '../agent/secrets/secret-history.js';
import { metaKey, parseExpiry } from '../agent/secrets/secret-meta.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { HISTORY_PREFIX, META_PREFIX, SECRET_PREFIX, secretKey } from '../protocol/names.js';

export interface VaultEntry {
  value: Buffer;
  updated: string;
}
export type VaultEntries = Map<string, VaultEntry>;

export interface MergeReport {
  /** Keys (secrets by NAME, other keys by key) that theirs added / changed / deleted and we took. */
  added: string[];
  changed: string[];
  deleted: string[];
  /**
   * Secret names changed on both sides: the later write is current, the other value is in
   * history (a deletion against an edit: deleted, the edit in history). A name listed here is
   * in no other list.
   */
  conflicts: string[];
}

/** A secret's current value and its expiry record: they travel together. */
interface Current {
  value?: VaultEntry | undefined;
  meta?: VaultEntry | undefined;
}

/** One secret as one vault holds it. */
interface SecretParts extends Current {
  history: Map<number, VaultEntry>;
}

const NO_SECRET: SecretParts = { history: new Map() };

/**
 * `merged` holds copies: the inputs are not changed and the caller may wipe them after. The
 * report tells what changed against `ours` (the vault of the device that merges). `opts.now`
 * is not read: the result depends on the three vaults and the limit alone (see above).
 */
export function mergeVaults(
  base: VaultEntries | null,
  ours: VaultEntries,
  theirs: VaultEntries,
  opts: { historyLimit: number; now: Date },
): { merged: VaultEntries; report: MergeReport } {
  const b = sortOut(base ?? new Map());
  const o = sortOut(ours);
  const t = sortOut(theirs);
  const out: [string, VaultEntry][] = [];
  const report: MergeReport = { added: [], changed: [], deleted: [], conflicts: [] };

  for (const key of keysOf(b.opaque, o.opaque, t.opaque)) {
    const mine = o.opaque.get(key);
    const kept = merge3(b.opaque.get(key), mine, t.opaque.get(key), later);
    if (kept) out.push([key, copy(kept)]);
    noteChange(report, key, mine, kept);
  }

  try {
    for (const name of keysOf(b.secrets, o.secrets, t.secrets)) {
      mergeSecret(name, b.secrets.get(name) ?? NO_SECRET, o.secrets.get(name) ?? NO_SECRET, t.secrets.get(name) ?? NO_SECRET, opts.historyLimit, out, report);
    }
  } catch (err) {
    for (const [, entry] of out) entry.value.fill(0); // a corrupt expiry or time: no copy is left behind
    throw err;
  }

  // Key order: both devices' merges hold (and so write) their entries alike.
  out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const list of Object.values(report)) list.sort();
  return { merged: new Map(out), report };
}

/** One secret's value, expiry and history into `out`; what changed against ours into `report`. */
function mergeSecret(name: string, base: SecretParts, ours: SecretParts, theirs: SecretParts, limit: number, out: [string, VaultEntry][], report: MergeReport): void {
  const { current, loser, replacedAt } = mergeCurrent(base, ours, theirs);
  if (current.value) out.push([secretKey(name), copy(current.value)]);
  if (current.meta) out.push([metaKey(name), copy(current.meta)]);
  // Read before any history is copied: a corrupt expiry or time throws with nothing half-made.
  const lost = loser
    ? { value: loser.value!.value, expiresAt: loser.meta ? parseExpiry(loser.meta.value.toString('utf8'), name) : null, at: writeTime(replacedAt!, name), updated: replacedAt! }
    : null;
  for (const [version, entry] of mergeHistory(base, ours, theirs, lost, limit)) out.push([historyKey(name, version), entry]);
  if (loser) report.conflicts.push(name);
  else if (ours.value || current.value) noteChange(report, name, ours.value, current.value, sameBytes(ours.meta, current.meta));
}

/** A vault's keys sorted out: each secret's value, expiry and history together; the rest opaque. */
function sortOut(entries: VaultEntries): { secrets: Map<string, SecretParts>; opaque: Map<string, VaultEntry> } {
  const secrets = new Map<string, SecretParts>();
  const opaque = new Map<string, VaultEntry>();
  const partsOf = (name: string): SecretParts => {
    let parts = secrets.get(name);
    if (!parts) secrets.set(name, (parts = { history: new Map() }));
    return parts;
  };
  for (const [key, entry] of entries) {
    const history = historyKeyParts(key);
    if (key.startsWith(SECRET_PREFIX) && key.length > SECRET_PREFIX.length) partsOf(key.slice(SECRET_PREFIX.length)).value = entry;
    else if (key.startsWith(META_PREFIX) && key.length > META_PREFIX.length) partsOf(key.slice(META_PREFIX.length)).meta = entry;
    else if (history) partsOf(history.name).history.set(history.version, entry);
    else opaque.set(key, entry);
  }
  return { secrets, opaque };
}

/** `sigilforge/_history/NAME/N` as secret-history.ts writes it; other keys under the prefix are opaque. */
function historyKeyParts(key: string): { name: string; version: number } | null {
  if (!key.startsWith(HISTORY_PREFIX)) return null;
  const rest = key.slice(HISTORY_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  const version = rest.slice(slash + 1);
  return slash > 0 && VERSION.test(version) ? { name: rest.slice(0, slash), version: Number(version) } : null;
}

/**
 * The entry a three-way merge keeps (undefined: none). A side equal to base takes the other;
 * deleted on one side and changed on the other, the change stays; changed on both, `both` picks.
 */
function merge3(base: VaultEntry | undefined, ours: VaultEntry | undefined, theirs: VaultEntry | undefined, both: (a: VaultEntry, b: VaultEntry) => VaultEntry): VaultEntry | undefined {
  if (same(ours, theirs) || same(theirs, base)) return ours;
  if (same(ours, base)) return theirs;
  if (!ours || !theirs) return ours ?? theirs;
  return both(ours, theirs);
}

/**
 * A secret's current value and expiry after the merge, and the value that lost (kept as
 * history, replaced at `replacedAt`) when both sides changed it.
 */
function mergeCurrent(base: Current, ours: Current, theirs: Current): { current: Current; loser?: Current; replacedAt?: string } {
  if (sameCurrent(ours, theirs) || sameCurrent(theirs, base)) return { current: ours };
  if (sameCurrent(ours, base)) return { current: theirs };
  if (ours.value && theirs.value) {
    const [loser, winner] = compareCurrent(ours, theirs) < 0 ? [ours, theirs] : [theirs, ours];
    if (loser.value!.value.equals(winner.value!.value) && sameBytes(loser.meta, winner.meta)) return { current: winner };
    return { current: winner, loser, replacedAt: winner.value!.updated };
  }
  if (ours.value || theirs.value) {
    const [edit, deletion] = ours.value ? [ours, theirs] : [theirs, ours];
    return { current: deletion, loser: edit, replacedAt: edit.value!.updated };
  }
  // Neither has a value, only an expiry record left behind (a crash between writes): opaque.
  return { current: { meta: merge3(base.meta, ours.meta, theirs.meta, later) } };
}

/**
 * A secret's merged history, as entries of its own (copies or new records). `lost`: a
 * conflict's losing value, added as the newest version and kept through the pruning.
 */
function mergeHistory(
  base: SecretParts,
  ours: SecretParts,
  theirs: SecretParts,
  lost: { value: Buffer; expiresAt: number | null; at: Date; updated: string } | null,
  limit: number,
): Map<number, VaultEntry> {
  const merged = new Map<number, VaultEntry>();
  const displaced: VaultEntry[] = [];
  const versions = keysOf(base.history, ours.history, theirs.history);
  for (const version of versions) {
    const kept = merge3(base.history.get(version), ours.history.get(version), theirs.history.get(version), (a, b) => {
      const [first, second] = compareRecords(a, b) < 0 ? [a, b] : [b, a];
      if (recordFacts(first).what !== recordFacts(second).what) displaced.push(second);
      return first;
    });
    if (kept) merged.set(version, copy(kept));
  }
  // The loser's record (its value, expiry and time): never pruned here, under whichever number it is.
  let keep: string | null = null;
  if (displaced.length > 0 || lost) {
    // New numbers above every one either side used: a number names one value on every device.
    let next = Math.max(0, ...versions) + 1;
    const held = new Set([...merged.values()].map((entry) => recordFacts(entry).identity));
    for (const entry of displaced.sort(compareRecords)) {
      const { identity } = recordFacts(entry);
      if (held.has(identity)) continue; // renumbered by an earlier merge of these two sides
      merged.set(next, renumbered(entry, next++));
      held.add(identity);
    }
    if (lost) {
      const record = { value: historyRecord(lost.value, lost.expiresAt, next, lost.at), updated: lost.updated };
      keep = recordFacts(record).identity;
      if (held.has(keep)) record.value.fill(0); // kept by an earlier merge of these two sides
      else merged.set(next, record);
    }
  }

  // Taken whole from one side: as that side pruned it (merging again must change nothing).
  if (sameHistory(merged, ours.history) || sameHistory(merged, theirs.history)) return merged;
  const numbers = [...merged.keys()].sort((x, y) => x - y);
  for (const version of numbers.slice(0, Math.max(0, numbers.length - Math.max(0, limit)))) {
    const entry = merged.get(version)!;
    if (keep !== null && recordFacts(entry).identity === keep) continue;
    entry.value.fill(0);
    merged.delete(version);
  }
  return merged;
}

/**
 * What a history record holds, read leniently (a corrupt record stays bytes, sorting first):
 * `what` is its value and expiry, `identity` adds when it was replaced.
 */
function recordFacts(entry: VaultEntry): { replacedAt: string; what: string; identity: string } {
  const doc = parseObject(entry.value);
  if (!doc) {
    const raw = `raw:${entry.value.toString('base64')}`;
    return { replacedAt: '', what: raw, identity: raw };
  }
  const replacedAt = typeof doc.replaced_at === 'string' ? doc.replaced_at : '';
  const what = JSON.stringify([doc.value ?? null, doc.expires_at ?? null]);
  return { replacedAt, what, identity: JSON.stringify([what, replacedAt]) };
}

/** Records in the order they were replaced, then by their bytes. */
function compareRecords(a: VaultEntry, b: VaultEntry): number {
  return compareTimes(recordFacts(a).replacedAt, recordFacts(b).replacedAt) || compareWrites(a, b);
}

/** The record under a new version number: its `version` field follows (secret-history.ts checks it). */
function renumbered(entry: VaultEntry, version: number): VaultEntry {
  const doc = parseObject(entry.value);
  return doc ? { value: Buffer.from(JSON.stringify({ ...doc, version }), 'utf8'), updated: entry.updated } : copy(entry);
}

function parseObject(raw: Buffer): Record<string, unknown> | null {
  try {
    const doc: unknown = JSON.parse(raw.toString('utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  } catch {
    return null; // not a record: merged as its bytes
  }
}

/** A write time that a new history record can carry as its replaced_at. */
function writeTime(updated: string, name: string): Date {
  const ms = Date.parse(updated);
  if (Number.isNaN(ms)) throw new SigilError(ErrorCode.INTERNAL, `the write time of secret "${name}" is corrupt in the vault`);
  return new Date(ms);
}

/** Entries alike: same bytes and same `updated`; two absent ones too. */
function same(a: VaultEntry | undefined, b: VaultEntry | undefined): boolean {
  return a && b ? a.updated === b.updated && a.value.equals(b.value) : a === b;
}

function sameBytes(a: VaultEntry | undefined, b: VaultEntry | undefined): boolean {
  return a && b ? a.value.equals(b.value) : a === b;
}

function sameCurrent(a: Current, b: Current): boolean {
  return same(a.value, b.value) && same(a.meta, b.meta);
}

function sameHistory(a: Map<number, VaultEntry>, b: Map<number, VaultEntry>): boolean {
  if (a.size !== b.size) return false;
  for (const [version, entry] of a) if (!same(entry, b.get(version))) return false;
  return true;
}

/** Later writes sort last; a tie goes by the bytes, so every device picks alike. */
function compareWrites(a: VaultEntry, b: VaultEntry): number {
  return compareTimes(a.updated, b.updated) || Buffer.compare(a.value, b.value);
}

function compareCurrent(a: Current, b: Current): number {
  return compareWrites(a.value!, b.value!) || (a.meta && b.meta ? compareWrites(a.meta, b.meta) : Number(!!a.meta) - Number(!!b.meta));
}

function later(a: VaultEntry, b: VaultEntry): VaultEntry {
  return compareWrites(a, b) < 0 ? b : a;
}

/** ISO times by the instant they name (one that names none sorts first), then as text. */
function compareTimes(a: string, b: string): number {
  const ta = instant(a);
  const tb = instant(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function instant(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? -Infinity : ms;
}

function copy(entry: VaultEntry): VaultEntry {
  return { value: Buffer.from(entry.value), updated: entry.updated };
}

function keysOf<K>(...maps: Map<K, unknown>[]): Set<K> {
  const keys = new Set<K>();
  for (const map of maps) for (const key of map.keys()) keys.add(key);
  return keys;
}

/** Against `ours`: what the merge added, deleted or changed (bytes; a new time alone is no change). */
function noteChange(report: MergeReport, key: string, ours: VaultEntry | undefined, kept: VaultEntry | undefined, expirySame = true): void {
  if (!ours && kept) report.added.push(key);
  else if (ours && !kept) report.deleted.push(key);
  else if (!sameBytes(ours, kept) || !expirySame) report.changed.push(key);
}
