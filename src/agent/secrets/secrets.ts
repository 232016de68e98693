import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { META_PREFIX, SECRET_PREFIX, secretKey } from '../../protocol/names.js';
import { nowS, type Clock } from '../clock.js';
import { expiryText, metaKey, readExpiry } from './secret-meta.js';
import { deleteHistory, historyCounts, listHistory, readVersion, replaceSecret, serialized, type HistoryVersion } from './secret-history.js';
import type { StoreGate } from '../lock/vault-lock.js';

export interface SecretsOptions {
  store: StoreGate;
  /** Previous versions kept per secret (config.toml's `[secrets] history`); 0 = none. */
  historyLimit: number;
  clock: Clock;
}

/**
 * Free-form secrets and their history (secret-history.ts), in the unlocked store. Values are
 * Buffers the caller owns: those passed in are not wiped here, those returned are the caller's
 * to wipe. Changes to one secret run one after another (its versions are numbered in order).
 */
export class Secrets {
  constructor(private readonly opts: SecretsOptions) {}

  private get store() {
    return this.opts.store.requireStore();
  }

  /** The value; NOT_FOUND when there is none or it has expired (the clock's time is past its expiry). */
  async get(name: string): Promise<Buffer> {
    const store = this.store;
    const expiresAt = await readExpiry(store, name);
    if (expiresAt !== null && expiresAt <= nowS(this.opts.clock)) {
      throw new SigilError(ErrorCode.NOT_FOUND, `secret "${name}" expired on ${expiryText(expiresAt)}`);
    }
    const value = await store.get(secretKey(name));
    if (!value) throw noSuchSecret(name);
    return value;
  }

  /**
   * `overwrite: false`: ALREADY_EXISTS when it has a value. The replaced value is kept as
   * history first. `expiresAt` (Unix seconds, after now): when the new value stops answering;
   * without it the new value does not expire.
   */
  set(name: string, value: Buffer, opts: { overwrite?: boolean; expiresAt?: number } = {}): Promise<{ created: boolean }> {
    const store = this.store;
    if (opts.expiresAt !== undefined && opts.expiresAt <= nowS(this.opts.clock)) {
      return Promise.reject(new SigilError(ErrorCode.BAD_REQUEST, `secret "${name}": expires_at is not in the future`));
    }
    return serialized(store, name, async () => {
      if (opts.overwrite === false && (await store.get(secretKey(name)))?.fill(0) !== undefined) {
        throw new SigilError(ErrorCode.ALREADY_EXISTS, `secret "${name}" already exists`);
      }
      const { existed } = await replaceSecret(store, name, value, this.opts.historyLimit, this.now(), opts.expiresAt ?? null);
      return { created: !existed };
    });
  }

  /** The secret and its history (also history left behind by an interrupted delete). */
  delete(name: string): Promise<void> {
    const store = this.store;
    return serialized(store, name, async () => {
      const existed = await store.delete(secretKey(name));
      await store.delete(metaKey(name));
      const versions = await deleteHistory(store, name);
      if (!existed && versions === 0) throw noSuchSecret(name);
    });
  }

  async list(prefix: string): Promise<string[]> {
    const keys = await this.store.list(SECRET_PREFIX + prefix);
    return keys.map((k) => k.slice(SECRET_PREFIX.length));
  }

  /** When each listed secret that has an expiry expires (Unix seconds; past ones included). */
  async expiries(prefix: string): Promise<Map<string, number>> {
    const store = this.store;
    const out = new Map<string, number>();
    for (const key of await store.list(META_PREFIX + prefix)) {
      const name = key.slice(META_PREFIX.length);
      const at = await readExpiry(store, name);
      if (at !== null) out.set(name, at);
    }
    return out;
  }

  /** How many previous versions are kept of each listed secret that has any. */
  versionCounts(prefix: string): Promise<Map<string, number>> {
    return historyCounts(this.store, prefix);
  }

  /**
   * How many secrets have expired and how many expire within `withinS` seconds (status, a
   * week ahead); null while locked. Counts only: names stay with list_secrets.
   */
  async expiring(withinS: number): Promise<{ expired: number; soon: number } | null> {
    if (this.opts.store.locked) return null;
    const now = nowS(this.opts.clock);
    let expired = 0;
    let soon = 0;
    for (const at of (await this.expiries('')).values()) {
      if (at <= now) expired++;
      else if (at <= now + withinS) soon++;
    }
    return { expired, soon };
  }

  /** How many there are (not account credentials, not history); null while locked. */
  async count(): Promise<number | null> {
    return this.opts.store.locked ? null : (await this.store.list(SECRET_PREFIX)).length;
  }

  /**
   * The kept versions, newest first (numbers and times, never values), and when the current
   * value was set: when the newest kept version was replaced by it.
   */
  async history(name: string): Promise<{ currentUpdated?: string; versions: HistoryVersion[] }> {
    const store = this.store;
    const current = await store.get(secretKey(name));
    current?.fill(0);
    const versions = await listHistory(store, name);
    if (current === null && versions.length === 0) throw noSuchSecret(name);
    const updated = current !== null ? versions[0]?.replaced_at : undefined;
    return { ...(updated ? { currentUpdated: updated } : {}), versions };
  }

  /**
   * Makes a kept version current again. The value it replaces is kept as the next version
   * first (`savedAs`), so a rollback can itself be rolled back.
   */
  rollback(name: string, version: number): Promise<{ savedAs: number | null }> {
    const store = this.store;
    return serialized(store, name, async () => {
      const record = await readVersion(store, name, version);
      if (!record) {
        throw new SigilError(ErrorCode.NOT_FOUND, `secret "${name}" has no version ${version} (see: sigil secret history ${name})`);
      }
      try {
        // The version's own expiry comes back with it; a version that has expired meanwhile is refused.
        if (record.expiresAt !== null && record.expiresAt <= nowS(this.opts.clock)) {
          throw new SigilError(ErrorCode.BAD_REQUEST, `version ${version} of secret "${name}" expired on ${expiryText(record.expiresAt)}`);
        }
        const { savedAs } = await replaceSecret(store, name, record.value, this.opts.historyLimit, this.now(), record.expiresAt);
        return { savedAs };
      } finally {
        record.value.fill(0);
      }
    });
  }

  private now(): Date {
    return new Date(this.opts.clock.now());
  }
}

function noSuchSecret(name: string): SigilError {
  return new SigilError(ErrorCode.NOT_FOUND, `no secret named "${name}"`);
}
