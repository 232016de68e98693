import { describe, expect, it } from 'vitest';
import { Secrets } from '../../../src/agent/secrets/secrets.js';
import type { StoreGate } from '../../../src/agent/lock/vault-lock.js';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { FakeClock } from '../../support/fake-clock.js';

/** The secrets part alone, on a memory store: history kept, numbered, timed by the clock and pruned. */
function setup(historyLimit: number) {
  const clock = new FakeClock(Date.parse('2027-01-15T08:00:00.000Z'));
  const store = new MemoryStore();
  const gate = { locked: false, requireStore: () => store, requireDeviceStore: () => store, storeWrites: 0 } satisfies StoreGate;
  const secrets = new Secrets({ store: gate, historyLimit, clock });
  const set = (value: string) => secrets.set('db/password', Buffer.from(value));
  const current = async () => (await secrets.get('db/password')).toString();
  return { clock, store, gate, secrets, set, current };
}

describe('Secrets: history', () => {
  it('keeps the newest `history` versions, each replaced at the clock’s time; older ones are pruned', async () => {
    const { clock, set, secrets, current } = setup(2);
    expect(await set('v1')).toEqual({ created: true });
    for (const v of ['v2', 'v3', 'v4']) {
      clock.advance(60_000);
      expect(await set(v)).toEqual({ created: false });
    }
    expect(await current()).toBe('v4');
    const h = await secrets.history('db/password');
    expect(h.versions).toEqual([
      { version: 3, replaced_at: '2027-01-15T08:03:00.000Z' },
      { version: 2, replaced_at: '2027-01-15T08:02:00.000Z' },
    ]);
    expect(h.currentUpdated).toBe('2027-01-15T08:03:00.000Z');
  });

  it('a rollback keeps the value it replaces as the next version, then prunes', async () => {
    const { clock, set, secrets, current } = setup(2);
    for (const v of ['v1', 'v2', 'v3']) await set(v);
    clock.advance(1000);
    expect(await secrets.rollback('db/password', 1)).toEqual({ savedAs: 3 });
    expect(await current()).toBe('v1');
    expect((await secrets.history('db/password')).versions.map((v) => v.version)).toEqual([3, 2]);
    await expect(secrets.rollback('db/password', 1)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });

  it('with history 0 keeps none', async () => {
    const { set, secrets, store } = setup(0);
    await set('v1');
    await set('v2');
    expect((await secrets.history('db/password')).versions).toEqual([]);
    expect(await store.list('sigilforge/_history/')).toEqual([]);
  });

  it('a delete takes the history with it; then the name is unknown', async () => {
    const { set, secrets, store } = setup(5);
    await set('v1');
    await set('v2');
    await secrets.delete('db/password');
    expect(await store.list('')).toEqual([]);
    await expect(secrets.delete('db/password')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(secrets.history('db/password')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });

  it('overwrite: false refuses an existing name and keeps its value', async () => {
    const { set, secrets, current } = setup(5);
    await set('v1');
    await expect(secrets.set('db/password', Buffer.from('v2'), { overwrite: false })).rejects.toMatchObject({ code: ErrorCode.ALREADY_EXISTS });
    expect(await current()).toBe('v1');
  });

  it('lists and counts secrets, never history; the count is null while locked', async () => {
    const { set, secrets, gate } = setup(5);
    await set('v1');
    await set('v2');
    await secrets.set('api/key', Buffer.from('k'));
    expect(await secrets.list('')).toEqual(['api/key', 'db/password']);
    expect(await secrets.list('db/')).toEqual(['db/password']);
    expect(await secrets.count()).toBe(2);
    expect(await new Secrets({ store: { ...gate, locked: true }, historyLimit: 5, clock: new FakeClock() }).count()).toBeNull();
  });
});

describe('Secrets: version counts (list_secrets, the TUI)', () => {
  it('counts the kept versions per name without mixing in names that extend it', async () => {
    const { set, secrets, clock } = setup(2);
    for (const v of ['v1', 'v2', 'v3', 'v4']) await set(v); // 3 replaced, 2 kept
    await secrets.set('db/password/1', Buffer.from('a'));
    clock.advance(1000);
    await secrets.set('db/password/1', Buffer.from('b'));
    await secrets.set('api/key', Buffer.from('k')); // never replaced: not in the map
    expect(Object.fromEntries(await secrets.versionCounts(''))).toEqual({ 'db/password': 2, 'db/password/1': 1 });
    expect(Object.fromEntries(await secrets.versionCounts('api/'))).toEqual({});
    await secrets.delete('db/password');
    expect(Object.fromEntries(await secrets.versionCounts('db/'))).toEqual({ 'db/password/1': 1 });
  });
});

describe('Secrets: expiry (--expires-in)', () => {
  const DAY_S = 86400;
  const nowS = (clock: FakeClock) => Math.floor(clock.now() / 1000);

  it('an expired secret answers NOT_FOUND naming the date; until then its value', async () => {
    const { clock, secrets, current } = setup(5);
    await secrets.set('db/password', Buffer.from('v1'), { expiresAt: nowS(clock) + 30 * DAY_S });
    clock.advance((30 * DAY_S - 1) * 1000);
    expect(await current()).toBe('v1');
    clock.advance(1000);
    const err = await secrets.get('db/password').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'secret "db/password" expired on 2027-02-14T08:00:00Z' });
  });

  it('lists the expiry of the secrets that have one, past ones too; a delete takes it with it', async () => {
    const { clock, secrets, store } = setup(5);
    const at = nowS(clock) + DAY_S;
    await secrets.set('db/password', Buffer.from('v1'), { expiresAt: at });
    await secrets.set('api/key', Buffer.from('k'));
    clock.advance(2 * DAY_S * 1000);
    expect(await secrets.list('')).toEqual(['api/key', 'db/password']);
    expect([...(await secrets.expiries(''))]).toEqual([['db/password', at]]);
    expect([...(await secrets.expiries('api/'))]).toEqual([]);
    await secrets.delete('db/password');
    expect(await store.list('sigilforge/_meta/')).toEqual([]);
  });

  it('a new value without an expiry clears it; with one, replaces it', async () => {
    const { clock, secrets, set, current } = setup(5);
    await secrets.set('db/password', Buffer.from('v1'), { expiresAt: nowS(clock) + DAY_S });
    await set('v2');
    expect([...(await secrets.expiries(''))]).toEqual([]);
    await secrets.set('db/password', Buffer.from('v3'), { expiresAt: nowS(clock) + 2 * DAY_S });
    clock.advance(DAY_S * 1000 + 1000);
    expect(await current()).toBe('v3');
    expect([...(await secrets.expiries(''))]).toEqual([['db/password', Date.parse('2027-01-17T08:00:00Z') / 1000]]);
  });

  it('a rollback brings back the version’s own expiry, and refuses a version that has expired', async () => {
    const { clock, secrets, set, current } = setup(5);
    const at = nowS(clock) + DAY_S;
    await secrets.set('db/password', Buffer.from('v1'), { expiresAt: at });
    await set('v2'); // v1 is version 1, with its expiry
    expect(await secrets.rollback('db/password', 1)).toEqual({ savedAs: 2 });
    expect(await current()).toBe('v1');
    expect([...(await secrets.expiries(''))]).toEqual([['db/password', at]]);
    // Back to v2 (version 2, no expiry): the expiry goes with v1.
    await secrets.rollback('db/password', 2);
    expect([...(await secrets.expiries(''))]).toEqual([]);
    clock.advance(DAY_S * 1000);
    await expect(secrets.rollback('db/password', 1)).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST, message: 'version 1 of secret "db/password" expired on 2027-01-16T08:00:00Z' });
    expect(await current()).toBe('v2');
  });

  it('refuses an expiry that is not in the future, changing nothing', async () => {
    const { clock, secrets, set, current } = setup(5);
    await set('v1');
    await expect(secrets.set('db/password', Buffer.from('v2'), { expiresAt: nowS(clock) })).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST });
    expect(await current()).toBe('v1');
  });
});

describe('Secrets: expiring (status warns a week ahead)', () => {
  it('counts the expired and those expiring within the window; null while locked', async () => {
    const { clock, secrets, gate } = setup(5);
    const now = Math.floor(clock.now() / 1000);
    await secrets.set('a', Buffer.from('1'), { expiresAt: now + 3600 });
    await secrets.set('b', Buffer.from('2'), { expiresAt: now + 6 * 86400 });
    await secrets.set('c', Buffer.from('3'), { expiresAt: now + 8 * 86400 });
    await secrets.set('d', Buffer.from('4'));
    expect(await secrets.expiring(7 * 86400)).toEqual({ expired: 0, soon: 2 });
    clock.advance(2 * 86400 * 1000);
    expect(await secrets.expiring(7 * 86400)).toEqual({ expired: 1, soon: 2 });
    expect(await new Secrets({ store: { ...gate, locked: true }, historyLimit: 5, clock }).expiring(7 * 86400)).toBeNull();
  });
});
