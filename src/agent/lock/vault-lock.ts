import { ErrorCode } from '../../protocol/codes.js';
import { lockedError, rateLimitedError, SigilError } from '../../protocol/errors.js';
import type { SecretStore } from '../../stores/secret-store.js';
import type { VaultOptions } from '../../stores/vault-store.js';
import type { AuditLog } from '../audit-log.js';
import type { Clock } from '../clock.js';
import { IdleGc } from './idle-gc.js';
import { IdleLock } from './idle-lock.js';
import { UnlockThrottle } from './unlock-throttle.js';

/**
 * Where the lock lives: the one place that holds the unlocked store. `store` is null exactly
 * while locked, so "locked" cannot disagree with "holds decrypted values". Starts locked.
 * Unlocking goes through the throttle (wrong passphrases) and the lease (one unlocked agent
 * per vault); the idle timer locks again; listeners hear of each change.
 */

/** What the credentials and secrets see of the lock: the store while unlocked, else LOCKED. */
export interface StoreGate {
  readonly locked: boolean;
  /** The unlocked store, or LOCKED. Every secret-bearing op goes through here. */
  requireStore(): SecretStore;
  /**
   * Where what never leaves this device is kept (OAuth tokens: sign-ins are per device): a
   * synced vault's device part, else the store itself. LOCKED while locked.
   */
  requireDeviceStore(): SecretStore;
  /** Counts completed writes to the store (set, delete): what was read before is stale after. */
  readonly storeWrites: number;
}

/** A part holding what lives only while unlocked (flows, refreshes, memos of tokens). */
export interface LockListener {
  /** The agent is locking: stop what would use the store. The store closes once this settles. */
  locking?(): void | Promise<void>;
  /** The store is gone: drop what was derived from it. */
  locked?(): void;
  /** The store is open. */
  unlocked?(): void;
  /** A write to the store completed; `device`: to its device part (this device's sign-ins), which never syncs. */
  written?(device: boolean): void;
}

export type LockReason = 'request' | 'timeout' | 'signal' | 'shutdown';

export interface UnlockOptions {
  /** Check the passphrase even when the agent is already unlocked: it is about to be remembered. */
  verify?: boolean;
  /** The passphrase was read from the OS keyring (unlock at login), not typed. */
  fromKeyring?: boolean;
}

export interface VaultLockOptions {
  /** Idle seconds before the agent locks itself; 0: never. */
  lockTimeoutS: number;
  clock: Clock;
  /** Opens the secret store with a passphrase (BAD_PASSPHRASE if wrong). */
  openStore(passphrase: Buffer): Promise<SecretStore>;
  /** Checks a passphrase without unlocking (BAD_PASSPHRASE if wrong). */
  checkPassphrase(passphrase: Buffer): Promise<void>;
  /** Puts the vault's identity under a new passphrase (BAD_PASSPHRASE if `old` is wrong). */
  changePassphrase(old: Buffer, next: Buffer, opts: VaultOptions): Promise<void>;
  /** sigil rekey: a new identity for the unlocked vault; its recipient (BAD_PASSPHRASE if `passphrase` is wrong). */
  rekey(passphrase: Buffer): Promise<string>;
  /** One unlocked agent per vault: taken before the store opens, given back when it closes. */
  lease: { acquire(): void; release(): void };
  audit: Pick<AuditLog, 'record' | 'flush'>;
  log: (msg: string) => void;
  /** Collects garbage once quiet after the big allocations (unlock, writes, lock). */
  gc?: Pick<IdleGc, 'request' | 'activity'>;
}

export class VaultLock implements StoreGate {
  private store: SecretStore | null = null;
  storeWrites = 0;
  private unlocking: Promise<void> | null = null;
  /** Bumped by every lock, so an unlock that was running when it came can tell. */
  private lockGeneration = 0;
  private readonly listeners: LockListener[] = [];
  private readonly idle: IdleLock;
  private readonly throttle: UnlockThrottle;
  private readonly gc: Pick<IdleGc, 'request' | 'activity'>;

  constructor(private readonly opts: VaultLockOptions) {
    this.throttle = new UnlockThrottle(() => opts.clock.now());
    this.idle = new IdleLock(opts.lockTimeoutS, () => void this.lock('timeout'), opts.clock);
    this.gc = opts.gc ?? new IdleGc(opts.clock);
  }

  get locked(): boolean {
    return this.store === null;
  }

  requireStore(): SecretStore {
    if (!this.store) throw lockedError();
    return this.store;
  }

  requireDeviceStore(): SecretStore {
    const store = this.requireStore();
    return store.device ?? store;
  }

  /** Told of every lock and unlock, in the order joined (a lock stops them in that order). */
  join(listener: LockListener): void {
    this.listeners.push(listener);
  }

  /** Marks a secret use at `now` (the clock's, read by the caller once per request): restarts the idle lock countdown. */
  used(now = this.opts.clock.now()): void {
    this.idle.touch(now);
    this.gc.activity(now);
  }

  get timeoutSeconds(): number {
    return this.idle.timeoutSeconds;
  }

  /** Seconds until the agent locks itself; null when locked or when there is no timeout. */
  locksIn(): number | null {
    return this.idle.locksIn();
  }

  /** Wrong passphrases in a row. */
  get failedUnlocks(): number {
    return this.throttle.failureCount;
  }

  /**
   * Unlocks with `passphrase`, which the caller owns and wipes. Attempts are serialized: a
   * second unlock while one runs waits for it and then succeeds at once if it worked —
   * unless `verify` asks for this passphrase to be checked all the same.
   */
  async unlock(passphrase: Buffer, opts: UnlockOptions = {}): Promise<void> {
    while (this.unlocking) await this.unlocking.catch(() => {});
    if (this.store) {
      if (opts.verify) await this.verify(passphrase);
      return;
    }
    // A passphrase from the keyring is not a guess: whoever asks cannot choose it, so it
    // neither waits for nor feeds the back-off. A stale one (changed by passwd elsewhere)
    // must not make the person wait before typing the right one.
    const guess = !opts.fromKeyring;
    if (guess) this.checkThrottle();
    const generation = this.lockGeneration;
    const attempt = (async () => {
      this.opts.lease.acquire();
      let store: SecretStore;
      try {
        store = await this.opts.openStore(passphrase);
      } catch (err) {
        this.opts.lease.release();
        if (guess && isBadPassphrase(err)) this.throttle.failed();
        throw err;
      }
      // A lock (command, SIGUSR1, shutdown) arrived while scrypt ran: the person wants it locked.
      if (generation !== this.lockGeneration) {
        await store.close();
        this.opts.lease.release();
        throw new SigilError(ErrorCode.LOCKED, 'the agent was locked while unlocking');
      }
      this.store = notifyWrites(store, (device) => {
        this.storeWrites++;
        this.gc.request();
        for (const l of this.listeners) l.written?.(device);
      });
      this.gc.request();
      this.throttle.succeeded();
      this.idle.start();
      for (const l of this.listeners) l.unlocked?.();
      this.opts.log('unlocked');
    })();
    this.unlocking = attempt;
    try {
      await attempt;
    } finally {
      this.unlocking = null;
    }
  }

  /** Checks a passphrase on an unlocked agent; wrong ones cost as they do when locked. */
  private verify(passphrase: Buffer): Promise<void> {
    return this.throttled(() => this.opts.checkPassphrase(passphrase));
  }

  /** passwd: identity.age under a new passphrase; a wrong old one costs as a wrong unlock does. */
  changePassphrase(old: Buffer, next: Buffer, opts: VaultOptions = {}): Promise<void> {
    return this.throttled(() => this.opts.changePassphrase(old, next, opts));
  }

  /** rekey: a new vault identity; a wrong passphrase costs as a wrong unlock does. Its recipient. */
  async rekey(passphrase: Buffer): Promise<string> {
    this.requireStore();
    let recipient = '';
    await this.throttled(async () => void (recipient = await this.opts.rekey(passphrase)));
    return recipient;
  }

  private async throttled(check: () => Promise<void>): Promise<void> {
    this.checkThrottle();
    try {
      await check();
    } catch (err) {
      if (isBadPassphrase(err)) this.throttle.failed();
      throw err;
    }
    this.throttle.succeeded();
  }

  private checkThrottle(): void {
    const wait = this.throttle.waitMs();
    if (wait > 0) {
      throw rateLimitedError(Math.ceil(wait / 1000));
    }
  }

  /** Drops every decrypted value and key. Idempotent; false when it was locked already. */
  async lock(reason: LockReason): Promise<boolean> {
    this.lockGeneration++;
    const store = this.store;
    if (!store) return false;
    // All are told before any is waited for. A refresh in flight has already spent the old
    // refresh token at the provider: it must store the rotated one before the vault closes,
    // or the account would be signed out.
    await Promise.all(this.listeners.map((l) => l.locking?.()));
    if (this.store !== store) return false;
    this.store = null;
    this.idle.stop();
    for (const l of this.listeners) l.locked?.();
    await store.close();
    this.opts.lease.release();
    this.gc.request();
    if (reason !== 'request') this.opts.audit.record({ op: 'lock', target: reason, result: 'ok' });
    void this.opts.audit.flush();
    this.opts.log(`locked (${reason})`);
    return true;
  }
}

function isBadPassphrase(err: unknown): boolean {
  return err instanceof SigilError && err.code === ErrorCode.BAD_PASSPHRASE;
}

/** The store with a hook after each write (writes re-encrypt the whole vault: garbage). */
function notifyWrites(store: SecretStore, onWrite: (device: boolean) => void, isDevice = false): SecretStore {
  const wrote = () => onWrite(isDevice);
  // A getter: `sigil sync init` gives an unlocked vault its device part.
  let device: { of: SecretStore; wrapped: SecretStore } | null = null;
  return {
    name: store.name,
    get device() {
      const d = store.device;
      if (!d) return undefined;
      if (device?.of !== d) device = { of: d, wrapped: notifyWrites(d, onWrite, true) };
      return device.wrapped;
    },
    get: (key) => store.get(key),
    ...(store.peek ? { peek: (key: string) => store.peek!(key) } : {}),
    set: async (key, value) => {
      await store.set(key, value);
      wrote();
    },
    delete: async (key) => {
      const existed = await store.delete(key);
      wrote();
      return existed;
    },
    ...(store.writeBatch
      ? {
          writeBatch: async (sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]) => {
            await store.writeBatch!(sets, deletes);
            wrote();
          },
        }
      : {}),
    list: (prefix) => store.list(prefix),
    size: () => store.size(),
    close: () => store.close(),
  };
}
