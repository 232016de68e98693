/**
 * The OS keyring as a SecretStore: Secret Service on Linux (gnome-keyring, KeePassXC, …),
 * Keychain on macOS, Credential Manager on Windows, through `@napi-rs/keyring` (prebuilt
 * binaries in the registry package, no install script; `keytar` is archived and needs a
 * compiler and libsecret headers).
 *
 * - One keyring item per storage key: service "sigilforge", username = the key, so
 *   `secret-tool lookup service sigilforge username sigilforge/_secret/NAME` finds it.
 * - The keyring API cannot list items, so the store keeps an index of its keys in one more
 *   item, username "_index": a JSON array. It is written before a new value and after a
 *   deleted one, so a crash between the two writes leaves the index listing a key whose
 *   value is gone (visible, removable), never a value nothing lists.
 * - Values are stored as text: a value that is valid UTF-8 as is, anything else (and any
 *   text that starts with the marker) as "sigilforge:base64:" + base64.
 * - Writes (value and index) run one after another through a queue; reads go straight to
 *   the keyring, nothing secret is cached in this process.
 * - On Linux the store is pinned to Secret Service (keyring-access.ts): no D-Bus, no Secret
 *   Service, or a locked collection is an error that says which, never a fallback.
 */
import { isUtf8 } from 'node:buffer';
import type { AsyncEntry } from '@napi-rs/keyring';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { openKeyringAccess, type KeyringAccess } from './keyring-access.js';
import type { SecretStore } from './secret-store.js';

/** The keyring items' service attribute. */
export const KEYRING_SERVICE = 'sigilforge';
/** The username of the item holding the index of keys; not usable as a storage key. */
export const KEYRING_INDEX_KEY = '_index';
/** Marks a value stored as base64 because it is not valid UTF-8 text. */
export const KEYRING_BASE64_PREFIX = 'sigilforge:base64:';

const PREFIX_BYTES = Buffer.from(KEYRING_BASE64_PREFIX);
/** Each entry holds a D-Bus connection (one file descriptor): reuse, but not without bound. */
const MAX_CACHED_ENTRIES = 64;

export interface KeyringOptions {
  /** The items' service attribute; tests use their own. Default "sigilforge". */
  service?: string;
}

/**
 * Checks that the keyring can be used: a D-Bus session, a Secret Service on it, and an
 * unlocked collection (the index is read, and created when absent). Throws the SigilError
 * that says which part is missing.
 */
export async function probeKeyring(opts: KeyringOptions = {}): Promise<void> {
  const store = await openKeyringStore(opts);
  await store.close();
}

/** Probes the keyring, loads the index, and returns the store. */
export async function openKeyringStore(opts: KeyringOptions = {}): Promise<KeyringStore> {
  const service = opts.service ?? KEYRING_SERVICE;
  const access = await openKeyringAccess();
  const indexEntry = await access.call(() => access.entry(service, KEYRING_INDEX_KEY));
  const raw = await access.call(() => indexEntry.getSecret());
  let index: Set<string>;
  if (raw === null) {
    // Also the write check: a locked collection answers reads of absent items with "none".
    index = new Set();
    await access.call(() => indexEntry.setSecret(Buffer.from('[]')));
  } else {
    index = parseIndex(raw, service);
  }
  return new KeyringStore(access, service, indexEntry, index);
}

/**
 * The keyring store. Build it with {@link openKeyringStore}, which probes the keyring.
 */
export class KeyringStore implements SecretStore {
  readonly name = 'keyring';
  private closed = false;
  /** The last write queued: value and index writes run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** AsyncEntry per key, least recently used first. */
  private readonly entries = new Map<string, AsyncEntry>();

  constructor(
    private readonly access: KeyringAccess,
    private readonly service: string,
    private readonly indexEntry: AsyncEntry,
    private readonly index: Set<string>,
  ) {}

  async get(key: string): Promise<Buffer | null> {
    this.assertOpen();
    checkKey(key);
    if (!this.index.has(key)) return null;
    const raw = await this.call(() => this.entry(key).getSecret());
    if (raw === null) return null;
    try {
      // Locked while the keyring answered: nothing is served after a lock.
      this.assertOpen();
      return decodeValue(raw);
    } finally {
      raw.fill(0);
    }
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.assertOpen();
    checkKey(key);
    const encoded = encodeValue(value);
    try {
      await this.enqueue(async () => {
        const added = !this.index.has(key);
        if (added) {
          this.index.add(key);
          try {
            await this.writeIndex();
          } catch (err) {
            this.index.delete(key);
            throw err;
          }
        }
        try {
          await this.call(() => this.entry(key).setSecret(encoded));
        } catch (err) {
          // A failed write leaves what was there: an old value stays (the keyring replaces an
          // item whole), and a key just added to the index is taken out again.
          if (added) {
            this.index.delete(key);
            await this.writeIndex().catch(() => undefined); // else listed without a value, as after a crash
          }
          throw err;
        }
      });
    } finally {
      encoded.fill(0);
    }
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    checkKey(key);
    return this.enqueue(async () => {
      if (!this.index.has(key)) return false;
      const existed = await this.call(() => this.entry(key).deleteCredential());
      this.index.delete(key);
      this.entries.delete(key);
      try {
        await this.writeIndex();
      } catch (err) {
        this.index.add(key); // still listed, as in the keyring's index; a retry removes it
        throw err;
      }
      return existed;
    });
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    return [...this.index].filter((k) => k.startsWith(prefix)).sort();
  }

  size(): number {
    this.assertOpen();
    return this.index.size;
  }

  /** Waits for writes already accepted, then drops the index and every cached entry. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    this.index.clear();
    this.entries.clear();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.catch(() => undefined).then(task);
    this.tail = run;
    return run;
  }

  private writeIndex(): Promise<void> {
    const json = Buffer.from(JSON.stringify([...this.index].sort()));
    return this.call(() => this.indexEntry.setSecret(json));
  }

  /** The entry for `key`, reused: creating one opens a D-Bus connection (≈5 ms). */
  private entry(key: string): AsyncEntry {
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key); // re-inserted below: most recently used last
    } else {
      entry = this.access.entry(this.service, key);
      if (this.entries.size >= MAX_CACHED_ENTRIES) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
    }
    this.entries.set(key, entry);
    return entry;
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return this.access.call(fn);
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCode.LOCKED, 'keyring store is locked');
  }
}

// ---- values and the index ----

function encodeValue(value: Buffer): Buffer {
  if (isUtf8(value) && !value.subarray(0, PREFIX_BYTES.length).equals(PREFIX_BYTES)) {
    return Buffer.from(value);
  }
  return Buffer.from(KEYRING_BASE64_PREFIX + value.toString('base64'));
}

function decodeValue(raw: number[]): Buffer {
  const bytes = Buffer.from(raw);
  if (!bytes.subarray(0, PREFIX_BYTES.length).equals(PREFIX_BYTES)) return bytes;
  try {
    return Buffer.from(bytes.subarray(PREFIX_BYTES.length).toString('latin1'), 'base64');
  } finally {
    bytes.fill(0);
  }
}

function parseIndex(raw: number[], service: string): Set<string> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    doc = undefined;
  }
  if (!Array.isArray(doc) || !doc.every((k): k is string => typeof k === 'string')) {
    throw new SigilError(
      ErrorCode.INTERNAL,
      `the keyring index (service ${service}, username ${KEYRING_INDEX_KEY}) is corrupt; ` +
        `remove it (secret-tool clear service ${service} username ${KEYRING_INDEX_KEY}) and set the secrets again`,
    );
  }
  return new Set(doc);
}

function checkKey(key: string): void {
  if (key === KEYRING_INDEX_KEY) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `"${KEYRING_INDEX_KEY}" is reserved by the keyring store`);
  }
}
