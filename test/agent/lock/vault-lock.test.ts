import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/agent/audit-log.js';
import { VaultLock, type VaultLockOptions } from '../../../src/agent/lock/vault-lock.js';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { SigilError } from '../../../src/protocol/errors.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { FakeClock } from '../../support/fake-clock.js';

/**
 * The lock alone: a memory store behind a passphrase, a fake clock, a lease that records what
 * it was asked. Lock timeout, back-off and lease without waiting for real time.
 */
const RIGHT = 'right passphrase';
const pass = (s: string) => Buffer.from(s);

/** Lets the lock's promise chains run (a lock closes its store asynchronously). */
const settle = () => new Promise<void>((r) => setImmediate(r));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof SigilError) return err.code;
    throw err;
  }
}

function setup(opts: Partial<VaultLockOptions> = {}) {
  const clock = new FakeClock();
  const audit: AuditEvent[] = [];
  const lease = { held: false, acquired: 0, acquire: () => void ((lease.held = true), lease.acquired++), release: () => void (lease.held = false) };
  const stores: MemoryStore[] = [];
  const check = async (p: Buffer) => {
    if (p.toString() !== RIGHT) throw new SigilError(ErrorCode.BAD_PASSPHRASE, 'incorrect passphrase');
  };
  const lock = new VaultLock({
    lockTimeoutS: 60,
    clock,
    openStore: async (p) => {
      await check(p);
      const s = new MemoryStore();
      stores.push(s);
      return s;
    },
    checkPassphrase: check,
    changePassphrase: (old) => check(old),
    rekey: async (p) => (await check(p), 'age1rekeyed'),
    lease,
    audit: { record: (e) => void audit.push(e), flush: async () => {} },
    log: () => {},
    gc: { request: () => {}, activity: () => {} },
    ...opts,
  });
  return { clock, audit, lease, stores, lock };
}

describe('VaultLock: the lock timeout', () => {
  it('locks after lock_timeout of idle time, counted from the last use; audited, the store closed and the lease given back', async () => {
    const { clock, audit, lease, stores, lock } = setup();
    expect(lock.locked).toBe(true);
    expect(() => lock.requireStore()).toThrow(expect.objectContaining({ code: ErrorCode.LOCKED }));
    await lock.unlock(pass(RIGHT));
    expect(lock.locked).toBe(false);
    expect(lease.held).toBe(true);
    await lock.requireStore().set('k', pass('v'));

    clock.advance(50_000);
    lock.used();
    clock.advance(59_999);
    await settle();
    expect(lock.locked).toBe(false);
    expect(lock.locksIn()).toBeCloseTo(0.001);
    clock.advance(1);
    await settle();
    expect(lock.locked).toBe(true);
    expect(lock.locksIn()).toBeNull();
    expect(audit).toContainEqual({ op: 'lock', target: 'timeout', result: 'ok' });
    expect(lease.held).toBe(false);
    await expect(stores[0]!.get('k')).rejects.toMatchObject({ code: ErrorCode.LOCKED });
  });

  it('never locks by itself with lock_timeout 0', async () => {
    const { clock, lock } = setup({ lockTimeoutS: 0 });
    await lock.unlock(pass(RIGHT));
    clock.advance(365 * 86_400_000);
    await settle();
    expect(lock.locked).toBe(false);
    expect(lock.locksIn()).toBeNull();
  });

  it('a lock by request is not audited here (the dispatcher writes that line), and a second lock says it was locked', async () => {
    const { audit, lock } = setup();
    await lock.unlock(pass(RIGHT));
    expect(await lock.lock('request')).toBe(true);
    expect(await lock.lock('request')).toBe(false);
    expect(audit).toEqual([]);
  });
});

describe('VaultLock: wrong passphrases back off', () => {
  it('three are free, then each waits twice as long; the right one after the wait unlocks and resets the count', async () => {
    const { clock, lock } = setup();
    for (let i = 0; i < 3; i++) expect(await codeOf(lock.unlock(pass('wrong')))).toBe(ErrorCode.BAD_PASSPHRASE);
    expect(lock.failedUnlocks).toBe(3);
    // Even the right one waits: the wait is for the next attempt, whatever it is.
    await expect(lock.unlock(pass(RIGHT))).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, message: expect.stringContaining('try again in 1s') });
    clock.advance(999);
    expect(await codeOf(lock.unlock(pass(RIGHT)))).toBe(ErrorCode.RATE_LIMITED);
    clock.advance(1);
    expect(await codeOf(lock.unlock(pass('wrong')))).toBe(ErrorCode.BAD_PASSPHRASE);
    await expect(lock.unlock(pass(RIGHT))).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, message: expect.stringContaining('try again in 2s') });
    clock.advance(2000);
    await lock.unlock(pass(RIGHT));
    expect(lock.locked).toBe(false);
    expect(lock.failedUnlocks).toBe(0);
  });

  it('a passphrase from the keyring neither waits for the back-off nor feeds it', async () => {
    const { lock } = setup();
    for (let i = 0; i < 3; i++) await codeOf(lock.unlock(pass('wrong')));
    expect(await codeOf(lock.unlock(pass('stale'), { fromKeyring: true }))).toBe(ErrorCode.BAD_PASSPHRASE);
    expect(lock.failedUnlocks).toBe(3);
    await lock.unlock(pass(RIGHT), { fromKeyring: true });
    expect(lock.locked).toBe(false);
  });

  it('checking a passphrase while unlocked (remember, passwd) costs as an unlock does', async () => {
    const { lock } = setup();
    await lock.unlock(pass(RIGHT));
    for (let i = 0; i < 2; i++) expect(await codeOf(lock.unlock(pass('wrong'), { verify: true }))).toBe(ErrorCode.BAD_PASSPHRASE);
    expect(await codeOf(lock.changePassphrase(pass('wrong'), pass('next')))).toBe(ErrorCode.BAD_PASSPHRASE);
    expect(await codeOf(lock.changePassphrase(pass(RIGHT), pass('next')))).toBe(ErrorCode.RATE_LIMITED);
    // Without verify an unlocked agent does not look at the passphrase at all.
    expect(await codeOf(lock.unlock(pass('wrong')))).toBe('ok');
  });

  it('rekey: locked answers LOCKED without a guess counted; a wrong passphrase costs as a wrong unlock does', async () => {
    const { lock } = setup();
    expect(await codeOf(lock.rekey(pass(RIGHT)))).toBe(ErrorCode.LOCKED);
    expect(lock.failedUnlocks).toBe(0);
    await lock.unlock(pass(RIGHT));
    for (let i = 0; i < 3; i++) expect(await codeOf(lock.rekey(pass('wrong')))).toBe(ErrorCode.BAD_PASSPHRASE);
    expect(await codeOf(lock.rekey(pass(RIGHT)))).toBe(ErrorCode.RATE_LIMITED);
    expect(lock.failedUnlocks).toBe(3);
  });
});

describe('VaultLock: the lease', () => {
  it('is taken before the store opens and given back when the open fails or the lock comes', async () => {
    const { lease, lock } = setup();
    await codeOf(lock.unlock(pass('wrong')));
    expect(lease).toMatchObject({ acquired: 1, held: false });
    await lock.unlock(pass(RIGHT));
    expect(lease).toMatchObject({ acquired: 2, held: true });
    await lock.lock('signal');
    expect(lease.held).toBe(false);
  });

  it('held by another agent: the unlock fails with its error, no store is opened and nothing counts as a wrong passphrase', async () => {
    const held = new SigilError(ErrorCode.ALREADY_EXISTS, 'the vault is unlocked by another agent');
    const { stores, lock } = setup({
      lease: {
        acquire: () => {
          throw held;
        },
        release: () => {},
      },
    });
    await expect(lock.unlock(pass(RIGHT))).rejects.toBe(held);
    expect(stores).toEqual([]);
    expect(lock.locked).toBe(true);
    expect(lock.failedUnlocks).toBe(0);
  });
});

describe('VaultLock: listeners and races', () => {
  it('a lock tells every listener before waiting for any, and closes the store only once they settled', async () => {
    const { stores, lock } = setup();
    const events: string[] = [];
    let settleRefresh!: () => void;
    lock.join({ locking: () => void events.push('flows stop'), unlocked: () => void events.push('flows may start') });
    lock.join({
      locking: () => {
        events.push('refreshes stop');
        return new Promise<void>((r) => (settleRefresh = r));
      },
      locked: () => void events.push('memo dropped'),
    });
    await lock.unlock(pass(RIGHT));
    const locking = lock.lock('request');
    await settle();
    expect(events).toEqual(['flows may start', 'flows stop', 'refreshes stop']);
    // The refresh in flight may still store its rotated token.
    await lock.requireStore().set('rotated', pass('rt'));
    settleRefresh();
    expect(await locking).toBe(true);
    expect(events.at(-1)).toBe('memo dropped');
    await expect(stores[0]!.get('rotated')).rejects.toMatchObject({ code: ErrorCode.LOCKED });
  });

  it('a lock that comes while the store opens wins: the unlock fails LOCKED and its store is closed', async () => {
    let open!: () => void;
    const store = new MemoryStore();
    const { lease, lock } = setup({ openStore: () => new Promise((r) => (open = () => r(store))) });
    const unlocking = lock.unlock(pass(RIGHT));
    await settle();
    expect(await lock.lock('signal')).toBe(false); // nothing was unlocked yet
    open();
    await expect(unlocking).rejects.toMatchObject({ code: ErrorCode.LOCKED });
    expect(lock.locked).toBe(true);
    expect(lease.held).toBe(false);
    await expect(store.get('k')).rejects.toMatchObject({ code: ErrorCode.LOCKED });
  });

  it('counts the writes to the store (the token memo goes stale by them)', async () => {
    const { lock } = setup();
    await lock.unlock(pass(RIGHT));
    const before = lock.storeWrites;
    await lock.requireStore().set('a', pass('1'));
    await lock.requireStore().delete('a');
    expect(lock.storeWrites).toBe(before + 2);
  });
});
