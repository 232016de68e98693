/**
 * The age vault: three files that the stock `age` CLI can read without us.
 *
 * - identity.age: an X25519 identity (`AGE-SECRET-KEY-1…`), passphrase-encrypted (scrypt).
 * - recipients.txt: the `age1…` keys every vault write is encrypted to; ours first.
 * - vault.age: the entries as JSON, encrypted to those recipients.
 *
 * Unlocking costs one scrypt; after it the identity is dropped, because writes need only
 * the public recipients. So the agent can persist a rotated token without the passphrase.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { openWithIdentity, sealToRecipients } from './age-seal.js';
import { sweepStaleTemps, writeFileAtomic, type FileOps } from './atomic-file.js';
import {
  DEFAULT_WORK_FACTOR,
  IncorrectPassphraseError,
  MAX_WORK_FACTOR,
  decryptWithPassphrase,
  encryptWithPassphrase,
  workFactorOf,
} from './scrypt-stanza.js';
import type { SecretStore } from './secret-store.js';
import { readDevicesFile } from '../sync/devices-file.js';

export interface VaultPaths {
  vault: string;
  identity: string;
  recipients: string;
  /**
   * A synced vault's devices (devices.toml, src/sync/devices-file.ts): their recipients are
   * the vault's too. Absent file: a single-machine vault.
   */
  devices?: string;
  /**
   * What never leaves this device once the vault syncs (OAuth tokens): a second vault file
   * encrypted to this device's key alone. Absent file: everything is in `vault`.
   */
  device?: string;
}

export interface VaultOptions {
  /** log2 of scrypt's N when (re)encrypting identity.age; age's default is 18. */
  workFactor?: number;
  /** Clock for `updated` stamps; tests pin it. */
  now?: () => Date;
  /** The file operations of vault writes; tests fail them on cue (ENOSPC, EIO). */
  fileOps?: FileOps;
}

const FORMAT = 'sigilforge-vault';
const SCHEMA = 1;
/** An age X25519 identity, as age-keygen (and sops' keys.txt) writes it on a line of its own. */
export const IDENTITY_LINE = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;

type Encoding = 'utf8' | 'base64';

export interface Entry {
  value: Buffer;
  updated: string;
}

/**
 * What a transform makes of the vault: the entries (sealed to the recipients on write), or the
 * entries with the sealed file that holds exactly them (a sync writes the very bytes it committed).
 */
export type Transformed = Map<string, Entry> | { entries: Map<string, Entry>; sealed: Uint8Array };

/** A change not yet on disk: a new entry, or null for a delete. */
interface Change {
  key: string;
  entry: Entry | null;
  /** Whether the key was there just before this change, as the write that carries it found it. */
  existed: boolean;
}

/** True when vault.age exists (an identity alone is an interrupted `sigil init`). */
export async function vaultExists(paths: VaultPaths): Promise<boolean> {
  return fileExists(paths.vault);
}

/**
 * Creates a new vault: a fresh identity under `passphrase`, recipients.txt naming it,
 * and an empty vault. The identity is written first and the vault last, so a vault.age
 * on disk always has the files needed to open it. `passphrase` stays the caller's.
 */
export async function createVault(paths: VaultPaths, passphrase: Buffer, opts: VaultOptions = {}): Promise<void> {
  checkNewPassphrase(passphrase, opts);
  for (const path of [paths.vault, paths.identity]) {
    if (await fileExists(path)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `a vault already exists: ${path}`);
  }
  await asSigilError('could not create the vault', async () => {
    const recipient = await writeNewIdentity(paths.identity, passphrase, opts);
    const header =
      '# sigilforge vault recipients: every vault write is encrypted to each age1… key below.\n' +
      "# The first is this vault's own key (its secret half is in identity.age); add backup keys after it.\n";
    await writeFileAtomic(paths.recipients, Buffer.from(`${header}${recipient}\n`));
    // With its space reserve from the start: deleting must work on a full disk (atomic-file.ts).
    await writeFileAtomic(paths.vault, await sealVault(new Map(), [recipient]), 0o600, { reserve: true, ops: opts.fileOps });
  });
}

/**
 * Creates identity.age alone: a fresh X25519 identity under `passphrase` (a device joining a
 * synced vault, which brings its own vault.age). Returns its recipient.
 */
export async function createIdentity(path: string, passphrase: Buffer, opts: VaultOptions = {}): Promise<string> {
  checkNewPassphrase(passphrase, opts);
  if (await fileExists(path)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `an identity already exists: ${path}`);
  return asSigilError('could not create the identity', () => writeNewIdentity(path, passphrase, opts));
}

async function writeNewIdentity(path: string, passphrase: Buffer, opts: VaultOptions): Promise<string> {
  // X25519 explicitly: generateIdentity() may turn post-quantum one day, which age 1.1.1 cannot read.
  const secret = await generateX25519Identity();
  const recipient = await identityToRecipient(secret);
  await writeIdentity(path, secret, recipient, passphrase, opts);
  return recipient;
}

/** identity.age (atomically replaced) holding `secret` under `passphrase`. */
async function writeIdentity(path: string, secret: string, recipient: string, passphrase: Buffer, opts: VaultOptions): Promise<void> {
  const now = opts.now ?? (() => new Date());
  // The same layout as age-keygen's output, so the decrypted file works with `age -d -i`.
  const identityText = Buffer.from(`# created: ${now().toISOString()}\n# public key: ${recipient}\n${secret}\n`);
  try {
    const sealed = await encryptWithPassphrase(identityText, passphrase, opts.workFactor ?? DEFAULT_WORK_FACTOR);
    await writeFileAtomic(path, sealed);
  } finally {
    identityText.fill(0);
  }
}

/**
 * Unlocks the vault: decrypts the identity with `passphrase`, decrypts the vault with
 * it, and forgets the identity. `passphrase` stays the caller's.
 */
export async function openVault(paths: VaultPaths, passphrase: Buffer, opts: VaultOptions = {}): Promise<VaultStore> {
  if (!(await fileExists(paths.vault))) {
    if (await fileExists(paths.identity)) {
      throw new SigilError(
        ErrorCode.NOT_FOUND,
        `no vault at ${paths.vault}, but its identity exists at ${paths.identity} (an interrupted \`sigil init\`?): remove it, then run: sigil init`,
      );
    }
    throw new SigilError(ErrorCode.NOT_FOUND, `no vault at ${paths.vault} — run: sigil init`);
  }

  const secret = await unsealSecret(paths, passphrase);
  const ownRecipient = await asSigilError(`${paths.identity} holds an invalid identity`, () =>
    identityToRecipient(secret),
  );
  // Fail at unlock rather than at the first write, when a token rotation depends on it.
  await readRecipients(paths, ownRecipient);
  await checkDeviceListed(paths, ownRecipient);

  const now = opts.now ?? (() => new Date());
  const key = new VaultKey(secret, ownRecipient);
  const entries = await readVault(paths.vault, key);
  const store = new VaultStore(paths.vault, entries, () => readRecipients(paths, ownRecipient), now, opts.fileOps, key);
  try {
    if (paths.device && (await fileExists(paths.device))) {
      store.device = new VaultStore(paths.device, await readVault(paths.device, key), async () => [ownRecipient], now, opts.fileOps);
    } else if (paths.device && paths.devices && (await fileExists(paths.devices))) {
      // A synced vault on a device that has not signed in anywhere yet (just joined).
      await createDevicePart(store, paths.device, now, opts.fileOps);
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * Gives an unlocked vault its device part (device.age, encrypted to this device alone), empty,
 * and returns it. For `sigil sync init` and a joined device's first unlock.
 */
export async function createDevicePart(store: VaultStore, path: string, now: () => Date = () => new Date(), fileOps?: FileOps): Promise<VaultStore> {
  const key = store.key;
  if (!key) throw new SigilError(ErrorCode.INTERNAL, 'the vault holds no key to make its device part with');
  await asSigilError(`could not create ${path}`, async () =>
    writeFileAtomic(path, await sealVault(new Map(), [key.recipient]), 0o600, { reserve: true, ops: fileOps }),
  );
  const own = key.recipient;
  store.device = new VaultStore(path, new Map(), async () => [own], now, fileOps);
  return store.device;
}

/** Decrypts and parses a vault file (vault.age, device.age) with `key`. */
async function readVault(path: string, key: VaultKey): Promise<Map<string, Entry>> {
  await sweepStaleTemps(path);
  return key.open(await readVaultFile(path), path);
}

/**
 * The unlocked identity, held by the vault while unlocked (and wiped on lock): a synced
 * vault must read other devices' versions of vault.age to merge them (src/sync). The key
 * text is kept as bytes; it becomes a string only for the moment age needs one.
 */
export class VaultKey {
  private secret: Buffer;
  /**
   * Keys this one replaced (sigil rekey), until the lock: they read versions of vault.age that
   * other devices sealed before they learnt the new key, and never seal anything.
   */
  private retired: Buffer[] = [];
  /** The recipients of the retired keys: a remote that lists them still lists this device. */
  readonly previous: string[] = [];
  constructor(secret: string, readonly recipient: string) {
    this.secret = Buffer.from(secret, 'latin1');
  }

  /** rekey: `old` is replaced by this key; it only reads from now on (and `old` holds nothing). */
  retire(old: VaultKey): void {
    this.retired.push(old.secret, ...old.retired);
    this.previous.push(old.recipient, ...old.previous);
    old.secret = Buffer.alloc(0);
    old.retired = [];
  }

  /** The entries of a sealed vault (any version of vault.age, or device.age). */
  async open(sealed: Uint8Array, path: string): Promise<Map<string, Entry>> {
    if (this.secret.length === 0) throw new SigilError(ErrorCode.LOCKED, 'vault is locked');
    let plaintext: Uint8Array;
    try {
      plaintext = await openWithIdentity(sealed, [this.secret, ...this.retired].map((s) => s.toString('latin1')));
    } catch (err) {
      throw new SigilError(ErrorCode.INTERNAL, `could not decrypt the vault at ${path}: ${reason(err)}`, {
        cause: err,
      });
    }
    try {
      return parseVault(plaintext, path);
    } finally {
      plaintext.fill(0);
    }
  }

  wipe(): void {
    for (const s of [this.secret, ...this.retired]) s.fill(0);
    this.secret = Buffer.alloc(0);
    this.retired = [];
  }
}

/**
 * Checks `passphrase` against identity.age (one scrypt, on Node's thread pool) without
 * opening the vault: for an agent that is already unlocked and must not trust a passphrase
 * it is asked to remember. BAD_PASSPHRASE when it does not open the identity.
 */
export async function verifyPassphrase(paths: VaultPaths, passphrase: Buffer): Promise<void> {
  const identityText = await unsealIdentity(paths, passphrase);
  try {
    parseIdentity(identityText, paths.identity);
  } finally {
    identityText.fill(0);
  }
}

/** Re-encrypts identity.age under a new passphrase; the vault itself is untouched. */
export async function changePassphrase(
  paths: VaultPaths,
  oldPass: Buffer,
  newPass: Buffer,
  opts: VaultOptions = {},
): Promise<void> {
  checkNewPassphrase(newPass, opts);
  const identityText = await unsealIdentity(paths, oldPass);
  try {
    parseIdentity(identityText, paths.identity); // never seal something we could not open later
    await asSigilError(`could not rewrite ${paths.identity}`, async () => {
      const sealed = await encryptWithPassphrase(identityText, newPass, opts.workFactor ?? DEFAULT_WORK_FACTOR);
      await writeFileAtomic(paths.identity, sealed);
    });
  } finally {
    identityText.fill(0);
  }
}

export interface RekeyOptions extends VaultOptions {
  /** Step 4 for a synced vault: devices.toml's entry of this device and device.json name `next`. */
  renameDevice?: (old: string, next: string) => Promise<void>;
  /** Called after each step (1..6) that reached the disk: tests stop there as a crash would. */
  afterStep?: (step: number) => void | Promise<void>;
}

/**
 * `sigil rekey`: a new identity for the unlocked vault `store`, in an order where a crash at
 * any step leaves a vault that the identity.age on disk opens: (1) a new identity; (2) the
 * vault (and device.age) sealed to the old recipients and the new one, recipients.txt naming
 * both; (3) identity.age replaced (same passphrase, same scrypt work factor); (4) devices.toml
 * and device.json renamed, recipients.txt without the old key; (5) the vault sealed without
 * the old key; (6) the store holds the new key. Returns the new recipient. BAD_PASSPHRASE
 * (nothing changed) when `passphrase` does not open identity.age.
 */
export async function rekeyVault(store: VaultStore, paths: VaultPaths, passphrase: Buffer, opts: RekeyOptions = {}): Promise<string> {
  const key = store.key;
  if (!key) throw new SigilError(ErrorCode.INTERNAL, 'the vault holds no key to rekey');
  const sealedIdentity = await readFile(paths.identity).catch(() => null);
  const current = await unsealSecret(paths, passphrase);
  const old = key.recipient;
  if ((await identityToRecipient(current)) !== old) {
    throw new SigilError(ErrorCode.INTERNAL, `${paths.identity} is no longer the identity this vault was unlocked with: lock, unlock, then rekey`);
  }
  const workFactor = opts.workFactor ?? (sealedIdentity ? workFactorOf(sealedIdentity) : undefined) ?? DEFAULT_WORK_FACTOR;
  const step = async (n: number) => opts.afterStep?.(n);
  return asSigilError('could not rekey the vault', async () => {
    const secret = await generateX25519Identity();
    const recipient = await identityToRecipient(secret);
    const next = new VaultKey(secret, recipient);
    await step(1);
    const original = await readFile(paths.recipients, 'utf8');
    const listed = recipientLines(original).includes(old);
    const synced = !!paths.devices && (await fileExists(paths.devices));
    await writeFileAtomic(paths.recipients, Buffer.from(listed ? replaceRecipient(original, old, [old, recipient]) : `${original}${recipient}\n`));
    await store.reseal(async () => [...new Set([...(await readRecipients(paths, old)), recipient])]);
    await store.device?.reseal(async () => [old, recipient]);
    await step(2);
    await writeIdentity(paths.identity, secret, recipient, passphrase, { ...opts, workFactor });
    await step(3);
    await opts.renameDevice?.(old, recipient);
    const final = listed ? replaceRecipient(original, old, [recipient]) : synced ? original : `${original}${recipient}\n`;
    await writeFileAtomic(paths.recipients, Buffer.from(final));
    await step(4);
    await store.reseal(() => readRecipients(paths, recipient));
    await store.device?.reseal(async () => [recipient]);
    await step(5);
    store.replaceKey(next);
    await step(6);
    return recipient;
  });
}

function recipientLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim());
}

/** recipients.txt with the line `from` replaced by the lines `to` (comments kept). */
function replaceRecipient(text: string, from: string, to: string[]): string {
  return text
    .split('\n')
    .flatMap((l) => (l.trim() === from ? to : [l]))
    .join('\n');
}

/**
 * The unlocked vault. Reads are served from memory; each change is written through
 * (encrypt to recipients.txt, atomic replace) before its promise resolves, and reaches
 * memory only then: a write that fails (a full disk) leaves memory and disk as they were,
 * so nothing is ever served that a restart would not find. Build it with {@link openVault}.
 */
export class VaultStore implements SecretStore {
  readonly name = 'vault';
  /** A synced vault's device-local part (device.age): see VaultPaths.device. */
  device?: VaultStore;
  private closed = false;
  /** The last write started or queued; writes run one after another, never two renames racing. */
  private tail: Promise<void> = Promise.resolve();
  /** A write queued behind the running one and not started yet: later changes ride on it. */
  private queued: Promise<void> | null = null;
  /** The changes the queued write will carry, in call order. */
  private queuedChanges: Change[] = [];
  /** The changes the running write carries. */
  private writingChanges: Change[] = [];

  constructor(
    private readonly path: string,
    /** What is on disk: only a write that succeeded changes it. */
    private entries: Map<string, Entry>,
    /** Whom each write is encrypted to, read at each write (recipients.txt, devices.toml). */
    private recipients: () => Promise<string[]>,
    private readonly now: () => Date,
    private readonly fileOps?: FileOps,
    /** The unlocked identity (the main vault holds it; its device part does not). */
    private ownKey?: VaultKey,
  ) {}

  get key(): VaultKey | undefined {
    return this.ownKey;
  }

  /** rekey: from now on writes are sealed to `recipients`, and the vault is re-sealed to them now. */
  reseal(recipients: () => Promise<string[]>): Promise<void> {
    this.recipients = recipients;
    return this.transform((e) => e);
  }

  /** rekey's last step: the vault holds the new identity; the old one only reads until the lock (VaultKey.retire). */
  replaceKey(next: VaultKey): void {
    const old = this.ownKey;
    this.ownKey = next;
    if (old) next.retire(old);
  }

  async get(key: string): Promise<Buffer | null> {
    return this.peek(key);
  }

  peek(key: string): Buffer | null {
    this.assertOpen();
    const entry = this.entries.get(key);
    return entry === undefined ? null : Buffer.from(entry.value);
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.assertOpen();
    this.queue(this.now().toISOString(), [key, Buffer.from(value)]);
    return this.persist();
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    // Nothing there, and nothing on its way: no write at all.
    if (!this.willHold(key)) return false;
    const [change] = this.queue('', key);
    await this.persist();
    return change!.existed;
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** One snapshot holds every change, and the rename makes it durable at once: all or nothing. */
  async writeBatch(sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]): Promise<void> {
    this.assertOpen();
    this.queue(this.now().toISOString(), ...sets.map(([key, value]) => [key, Buffer.from(value)] as const), ...deletes);
    return this.persist();
  }

  size(): number {
    this.assertOpen();
    return this.entries.size;
  }

  /** Waits for writes already accepted, then wipes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    for (const entry of this.entries.values()) entry.value.fill(0);
    this.entries.clear();
    this.key?.wipe();
    await this.device?.close();
  }

  /** A copy of every entry as it is on disk now (values copied: the caller wipes them). */
  snapshot(): Map<string, Entry> {
    this.assertOpen();
    return copyEntries(this.entries);
  }

  /**
   * Replaces the whole vault with what `next` makes of it, in one write that runs after every
   * write accepted so far (so `current` is what is on disk, and nothing slips in between).
   * `next` gets a copy and returns the entries to keep (which the store then owns). Also how a
   * vault is re-encrypted to a changed set of recipients: `transform((e) => e)`.
   */
  transform(next: (current: Map<string, Entry>) => Transformed | Promise<Transformed>): Promise<void> {
    this.assertOpen();
    const run = this.tail
      .catch(() => undefined)
      .then(async () => {
        const result = await next(copyEntries(this.entries));
        const target = result instanceof Map ? result : result.entries;
        const plaintext = serializeVault(target);
        try {
          const sealed = result instanceof Map ? await encryptTo(plaintext, await this.recipients()) : result.sealed;
          await writeFileAtomic(this.path, sealed, 0o600, { reserve: true, ops: this.fileOps });
        } catch (err) {
          for (const e of target.values()) e.value.fill(0);
          throw new SigilError(ErrorCode.INTERNAL, `could not write the vault: ${reason(err)}`, { cause: err });
        } finally {
          plaintext.fill(0);
        }
        const old = this.entries;
        this.entries = target;
        for (const e of old.values()) e.value.fill(0);
      });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Adds changes for the next write: `[key, value]` sets (the value a copy the store now
   * owns), a bare key deletes. `updated` stamps the sets (one time for a batch).
   */
  private queue(updated: string, ...items: ReadonlyArray<string | readonly [string, Buffer]>): Change[] {
    const changes = items.map((item): Change =>
      typeof item === 'string' ? { key: item, entry: null, existed: false } : { key: item[0], entry: { value: item[1], updated }, existed: false },
    );
    this.queuedChanges.push(...changes);
    return changes;
  }

  /** Whether `key` is there once the writes accepted so far are done (if they succeed). */
  private willHold(key: string): boolean {
    for (const changes of [this.queuedChanges, this.writingChanges]) {
      for (let i = changes.length - 1; i >= 0; i--) if (changes[i]!.key === key) return changes[i]!.entry !== null;
    }
    return this.entries.has(key);
  }

  /**
   * Resolves once a write that includes every change queued so far is on disk (and then in
   * memory). A change made while a write runs joins the single queued write, so a burst of
   * N changes costs at most two writes, not N. If a write fails, none of its changes take
   * effect and every caller whose change it carried gets the error.
   */
  private persist(): Promise<void> {
    if (this.queued !== null) return this.queued;
    const write = this.tail
      .catch(() => undefined)
      .then(() => {
        this.queued = null; // from here on, new changes need a new write: this one takes its changes now
        const changes = this.queuedChanges;
        this.queuedChanges = [];
        this.writingChanges = changes;
        return this.writeChanges(changes).finally(() => {
          this.writingChanges = [];
        });
      });
    this.queued = write;
    this.tail = write;
    return write;
  }

  private async writeChanges(changes: Change[]): Promise<void> {
    // What the vault holds once these changes are made, without touching `entries` yet.
    const next = new Map(this.entries);
    for (const change of changes) {
      change.existed = next.has(change.key);
      if (change.entry) next.set(change.key, change.entry);
      else next.delete(change.key);
    }
    const plaintext = serializeVault(next);
    try {
      await writeFileAtomic(this.path, await encryptTo(plaintext, await this.recipients()), 0o600, { reserve: true, ops: this.fileOps });
    } catch (err) {
      for (const change of changes) change.entry?.value.fill(0);
      throw new SigilError(ErrorCode.INTERNAL, `could not write the vault: ${reason(err)}`, { cause: err });
    } finally {
      plaintext.fill(0);
    }
    // Durable: now memory follows, wiping each value replaced.
    for (const change of changes) {
      const old = this.entries.get(change.key);
      if (change.entry) this.entries.set(change.key, change.entry);
      else this.entries.delete(change.key);
      if (old && old !== change.entry) old.value.fill(0);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCode.LOCKED, 'vault is locked');
  }
}

// ---- identity.age ----

async function unsealIdentity(paths: VaultPaths, passphrase: Buffer): Promise<Buffer> {
  let sealed: Buffer;
  try {
    sealed = await readFile(paths.identity);
  } catch (err) {
    if (isNotFound(err)) {
      throw new SigilError(
        ErrorCode.NOT_FOUND,
        `the vault identity ${paths.identity} is missing: the vault cannot be unlocked without it (restore it from a backup)`,
        { cause: err },
      );
    }
    throw new SigilError(ErrorCode.INTERNAL, `could not read ${paths.identity}: ${reason(err)}`, { cause: err });
  }
  try {
    return Buffer.from(await decryptWithPassphrase(sealed, passphrase));
  } catch (err) {
    if (err instanceof IncorrectPassphraseError) {
      throw new SigilError(ErrorCode.BAD_PASSPHRASE, 'incorrect passphrase', { cause: err });
    }
    throw new SigilError(ErrorCode.INTERNAL, `could not decrypt ${paths.identity}: ${reason(err)}`, { cause: err });
  }
}

/** The `AGE-SECRET-KEY-1…` of identity.age under `passphrase` (the decrypted file wiped). */
async function unsealSecret(paths: VaultPaths, passphrase: Buffer): Promise<string> {
  const identityText = await unsealIdentity(paths, passphrase);
  try {
    return parseIdentity(identityText, paths.identity);
  } finally {
    identityText.fill(0);
  }
}

/** The `AGE-SECRET-KEY-1…` line of an age-keygen style file; the message never quotes the file. */
function parseIdentity(text: Buffer, path: string): string {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start); // '\n'
    if (end === -1) end = text.length;
    const line = text.subarray(start, end).toString('latin1').trim();
    if (IDENTITY_LINE.test(line)) return line;
    start = end + 1;
  }
  throw new SigilError(ErrorCode.INTERNAL, `${path} holds no AGE-SECRET-KEY-1… identity`);
}

// ---- recipients.txt ----

/**
 * Every recipient in recipients.txt and, for a synced vault, every device's in devices.toml,
 * plus ours if someone removed it: the vault must stay openable.
 */
export async function readRecipients(paths: Pick<VaultPaths, 'recipients' | 'devices'>, ownRecipient: string): Promise<string[]> {
  const path = paths.recipients;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) {
      throw new SigilError(
        ErrorCode.INTERNAL,
        `the vault recipients file ${path} is missing; recreate it with the line ${ownRecipient}`,
        { cause: err },
      );
    }
    throw new SigilError(ErrorCode.INTERNAL, `could not read ${path}: ${reason(err)}`, { cause: err });
  }
  const recipients: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    checkRecipient(line, `${path} line ${i + 1}`);
    if (!recipients.includes(line)) recipients.push(line);
  });
  if (paths.devices) {
    for (const d of await readDevicesFile(paths.devices)) {
      if (!recipients.includes(d.recipient)) recipients.push(d.recipient);
    }
  }
  if (!recipients.includes(ownRecipient)) recipients.unshift(ownRecipient);
  return recipients;
}

/**
 * A synced vault opens only on its devices: a device that joined and was not added yet (or was
 * removed) is told what to do rather than that decryption failed.
 */
async function checkDeviceListed(paths: VaultPaths, ownRecipient: string): Promise<void> {
  if (!paths.devices) return;
  const devices = await readDevicesFile(paths.devices);
  if (devices.length === 0 || devices.some((d) => d.recipient === ownRecipient)) return;
  const lines = (await readFile(paths.recipients, 'utf8').catch(() => '')).split('\n').map((l) => l.trim());
  if (lines.includes(ownRecipient)) return;
  throw new SigilError(
    ErrorCode.FORBIDDEN,
    `this device (${ownRecipient}) is not among the vault's devices: on a device already in the vault run \`sigil device add NAME ${ownRecipient}\`, then \`sigil sync\` here`,
  );
}

/** INTERNAL naming `where` when `line` is no age recipient (age1…). */
export function checkRecipient(line: string, where: string): void {
  try {
    new Encrypter().addRecipient(line); // parses and validates the key
  } catch (err) {
    throw new SigilError(ErrorCode.INTERNAL, `${where}: not an age recipient (age1…)`, { cause: err });
  }
}

// ---- vault.age ----

async function readVaultFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) throw new SigilError(ErrorCode.NOT_FOUND, `no vault at ${path} — run: sigil init`);
    throw new SigilError(ErrorCode.INTERNAL, `could not read the vault at ${path}: ${reason(err)}`, { cause: err });
  }
}

function encryptTo(plaintext: Uint8Array, recipients: string[]): Promise<Uint8Array> {
  return sealToRecipients(plaintext, recipients);
}

/** The entries as a vault file encrypted to `recipients` (what a sync commits). */
export async function sealVault(entries: Map<string, Entry>, recipients: string[]): Promise<Uint8Array> {
  const plaintext = serializeVault(entries);
  try {
    return await encryptTo(plaintext, recipients);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * JSON, so that `age -d -i key vault.age | jq` is a working disaster recovery. Values
 * that are valid UTF-8 are stored as text (readable), anything else as base64.
 * The JSON string itself cannot be wiped (JS strings are immutable); the Buffer can.
 */
function serializeVault(entries: Map<string, Entry>): Buffer {
  // A null prototype: a key named "__proto__" must stay a plain entry.
  const out: Record<string, { value: string; encoding: Encoding; updated: string }> = Object.create(null);
  for (const [key, { value, updated }] of entries) {
    const encoding: Encoding = isUtf8(value) ? 'utf8' : 'base64';
    out[key] = { value: value.toString(encoding), encoding, updated };
  }
  return Buffer.from(JSON.stringify({ format: FORMAT, schema: SCHEMA, entries: out }));
}

function parseVault(plaintext: Uint8Array, path: string): Map<string, Entry> {
  const corrupt = (what: string) => new SigilError(ErrorCode.INTERNAL, `the vault at ${path} is corrupt: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString('utf8'));
  } catch {
    // Not the SyntaxError's message: V8 quotes the input, which is full of secrets.
    throw corrupt('not valid JSON');
  }
  if (!isObject(doc) || doc.format !== FORMAT) throw corrupt('not a sigilforge vault');
  if (doc.schema !== SCHEMA) {
    throw new SigilError(
      ErrorCode.INTERNAL,
      `the vault at ${path} has schema ${JSON.stringify(doc.schema)}, but this sigilforge reads schema ${SCHEMA} only: upgrade sigilforge`,
    );
  }
  if (!isObject(doc.entries)) throw corrupt('no entries');

  const entries = new Map<string, Entry>();
  for (const [key, raw] of Object.entries(doc.entries)) {
    if (
      !isObject(raw) ||
      typeof raw.value !== 'string' ||
      typeof raw.updated !== 'string' ||
      (raw.encoding !== 'utf8' && raw.encoding !== 'base64')
    ) {
      throw corrupt(`malformed entry ${JSON.stringify(key)}`);
    }
    if (raw.encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(raw.value)) {
      throw corrupt(`malformed base64 in entry ${JSON.stringify(key)}`);
    }
    entries.set(key, { value: Buffer.from(raw.value, raw.encoding), updated: raw.updated });
  }
  return entries;
}

/** A copy of `entries` whose values the caller owns (and may wipe). */
export function copyEntries(entries: ReadonlyMap<string, Entry>): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const [k, e] of entries) out.set(k, { value: Buffer.from(e.value), updated: e.updated });
  return out;
}

// ---- helpers ----

function checkNewPassphrase(passphrase: Buffer, opts: VaultOptions): void {
  if (passphrase.length === 0) throw new SigilError(ErrorCode.BAD_REQUEST, 'the passphrase must not be empty');
  const wf = opts.workFactor ?? DEFAULT_WORK_FACTOR;
  if (!Number.isInteger(wf) || wf < 1 || wf > MAX_WORK_FACTOR) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `the scrypt work factor must be an integer in 1..${MAX_WORK_FACTOR}`);
  }
}

/** Runs `fn`, turning anything but a SigilError into INTERNAL "<what>: <reason>". */
async function asSigilError<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SigilError) throw err;
    throw new SigilError(ErrorCode.INTERNAL, `${what}: ${reason(err)}`, { cause: err });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw new SigilError(ErrorCode.INTERNAL, `could not check ${path}: ${reason(err)}`, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** A one-line, secret-free reason: ours and Node's fs/crypto messages never quote content. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
