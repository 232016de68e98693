import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../stores/atomic-file.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * What a synced data directory holds, and what of it travels. The directory is a git work
 * tree, but only these files are ever committed; the rest (the identity, this device's
 * sign-ins, the lease, temporary files) stays on the device, and .gitignore says so to anyone
 * who runs git there by hand.
 */
export const VAULT_FILE = 'vault.age';
export const RECIPIENTS_FILE = 'recipients.txt';
export const DEVICES_FILE = 'devices.toml';
export const GITIGNORE_FILE = '.gitignore';

export const GITIGNORE =
  '# Sigilforge syncs these files only; everything else here stays on this device\n' +
  '# (identity.age, device.age with this device\'s sign-ins, device.json, the lease).\n' +
  '/*\n!/vault.age\n!/recipients.txt\n!/devices.toml\n!/.gitignore\n';

/** Which device this is: written by `sync init` and `join`, never synced. */
export interface ThisDevice {
  name: string;
  recipient: string;
}

export async function readThisDevice(path: string): Promise<ThisDevice | null> {
  const doc = await readJson(path);
  if (doc === null) return null;
  if (typeof doc.name !== 'string' || typeof doc.recipient !== 'string') {
    throw new SigilError(ErrorCode.INTERNAL, `${path} is corrupt: it must name this device and its recipient`);
  }
  return { name: doc.name, recipient: doc.recipient };
}

export async function writeThisDevice(path: string, device: ThisDevice): Promise<void> {
  await writeFileAtomic(path, Buffer.from(JSON.stringify(device) + '\n'), 0o600);
}

/** How the last sync went, for status and the TUI. */
export interface SyncState {
  /** Unix seconds. */
  at: number;
  ok: boolean;
  /** What it did ("2 from the remote, 1 sent") or why it failed. */
  summary: string;
}

export async function readSyncState(path: string): Promise<SyncState | null> {
  const doc = await readJson(path).catch(() => null);
  if (!doc || typeof doc.at !== 'number' || typeof doc.ok !== 'boolean' || typeof doc.summary !== 'string') return null;
  return { at: doc.at, ok: doc.ok, summary: doc.summary };
}

export async function writeSyncState(path: string, state: SyncState): Promise<void> {
  await writeFileAtomic(path, Buffer.from(JSON.stringify(state) + '\n'), 0o600);
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const doc: unknown = JSON.parse(text);
    return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : null;
  } catch {
    throw new SigilError(ErrorCode.INTERNAL, `${path} is corrupt (not JSON)`);
  }
}

/**
 * Three-way merge of a set of items keyed by `key`: an item added on either side is kept, one
 * removed on one side and unchanged on the other is removed, one changed on both sides is
 * `pick(ours, theirs)`. With no base, nothing is known to be removed: the union.
 */
export function mergeKeyed<T>(
  base: readonly T[] | null,
  ours: readonly T[],
  theirs: readonly T[],
  key: (item: T) => string,
  same: (a: T, b: T) => boolean,
  pick: (ours: T, theirs: T) => T,
): T[] {
  const index = (items: readonly T[]) => new Map(items.map((i) => [key(i), i]));
  const b = base ? index(base) : null;
  const o = index(ours);
  const t = index(theirs);
  const out: T[] = [];
  for (const k of new Set([...o.keys(), ...t.keys(), ...(b?.keys() ?? [])])) {
    const [bi, oi, ti] = [b?.get(k), o.get(k), t.get(k)];
    const unchanged = (x: T | undefined) => (x === undefined ? bi === undefined : bi !== undefined && same(x, bi));
    let kept: T | undefined;
    if (oi && ti) kept = same(oi, ti) ? oi : unchanged(oi) ? ti : unchanged(ti) ? oi : pick(oi, ti);
    else if (oi) kept = b && unchanged(oi) && bi !== undefined ? undefined : oi; // theirs removed it
    else if (ti) kept = b && unchanged(ti) && bi !== undefined ? undefined : ti; // we removed it
    if (kept) out.push(kept);
  }
  return out;
}
