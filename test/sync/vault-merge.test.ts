import { describe, expect, it } from 'vitest';
import type { StoreGate } from '../../src/agent/lock/vault-lock.js';
import { listHistory, readVersion } from '../../src/agent/secrets/secret-history.js';
import { metaKey, readExpiry } from '../../src/agent/secrets/secret-meta.js';
import { Secrets } from '../../src/agent/secrets/secrets.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { credentialKey, secretKey } from '../../src/protocol/names.js';
import type { SecretStore } from '../../src/stores/secret-store.js';
import { mergeVaults, type VaultEntries } from '../../src/sync/vault-merge.js';
import { sigilErrorOf, sigilErrorThrown } from '../support/errors.js';
import { FakeClock } from '../support/fake-clock.js';
import { Rng } from '../support/rng.js';

const T0 = Date.parse('2027-03-01T10:00:00.000Z');
const MIN = 60_000;
/** An expiry (Unix seconds) no test reaches. */
const FAR = Math.floor(T0 / 1000) + 365 * 86_400;
const API_KEY = credentialKey('github', 'me', 'api_key');
const ACCOUNT = 'sigilforge/_account/github/me';

/** A vault's entries behind the store interface, stamped as the vault stamps them: one time per write. */
class EntryStore implements SecretStore {
  readonly name = 'entries';
  constructor(
    readonly entries: VaultEntries,
    private readonly clock: FakeClock,
  ) {}
  async get(key: string): Promise<Buffer | null> {
    return this.peek(key);
  }
  peek(key: string): Buffer | null {
    const entry = this.entries.get(key);
    return entry ? Buffer.from(entry.value) : null;
  }
  async set(key: string, value: Buffer): Promise<void> {
    await this.writeBatch([[key, value]], []);
  }
  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }
  async writeBatch(sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]): Promise<void> {
    const updated = new Date(this.clock.now()).toISOString();
    for (const [key, value] of sets) this.entries.set(key, { value: Buffer.from(value), updated });
    for (const key of deletes) this.entries.delete(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  size(): number {
    return this.entries.size;
  }
  async close(): Promise<void> {}
}

/**
 * A device: its own copy of `entries` and its own clock from `start`, with the agent's real
 * secrets part on them. Each write moves its clock on a minute.
 */
function device(entries: VaultEntries | null, start: number, historyLimit = 5) {
  const clock = new FakeClock(start);
  const store = new EntryStore(copyOf(entries ?? new Map()), clock);
  const gate = { locked: false, requireStore: () => store, requireDeviceStore: () => store, storeWrites: 0 } satisfies StoreGate;
  const secrets = new Secrets({ store: gate, historyLimit, clock });
  const step = async (write: Promise<unknown>) => {
    await write;
    clock.advance(MIN);
  };
  return {
    clock,
    store,
    secrets,
    entries: store.entries,
    step,
    set: (name: string, value: string, expiresAt?: number) => step(secrets.set(name, Buffer.from(value), expiresAt ? { expiresAt } : {})),
    remove: (name: string) => step(secrets.delete(name)),
    setKey: (key: string, value: string) => step(store.set(key, Buffer.from(value))),
    removeKey: (key: string) => step(store.delete(key)),
    current: async (name: string) => (await store.get(secretKey(name)))?.toString() ?? null,
    versions: async (name: string) => (await listHistory(store, name)).map((v) => v.version),
    version: async (name: string, n: number) => {
      const rec = await readVersion(store, name, n);
      return rec && { value: rec.value.toString(), replaced_at: rec.replaced_at, expiresAt: rec.expiresAt };
    },
  };
}
type Device = ReturnType<typeof device>;

function copyOf(entries: VaultEntries): VaultEntries {
  return new Map([...entries].map(([key, e]) => [key, { value: Buffer.from(e.value), updated: e.updated }]));
}

/** Entries as lines, in their order: equal dumps are the same vault byte for byte. */
function dump(entries: VaultEntries): string[] {
  return [...entries].map(([key, e]) => `${key} ${e.updated} ${e.value.toString('base64')}`);
}

function merge(base: VaultEntries | null, ours: VaultEntries, theirs: VaultEntries, historyLimit = 5) {
  return mergeVaults(base, ours, theirs, { historyLimit, now: new Date(T0) });
}

/** Merges as each device does (its own vault as ours); both must come to the same bytes. */
function mergeBoth(base: VaultEntries | null, a: VaultEntries, b: VaultEntries, historyLimit = 5) {
  const onA = merge(base, a, b, historyLimit);
  const onB = merge(base, b, a, historyLimit);
  expect(dump(onB.merged)).toEqual(dump(onA.merged));
  return { merged: onA.merged, onA: onA.report, onB: onB.report };
}

const iso = (ms: number) => new Date(ms).toISOString();
const noReport = { added: [], changed: [], deleted: [], conflicts: [] };

/** A base vault written by a device, and two devices starting from it. */
async function fromBase(write: (d: Device) => Promise<void>, limit = 5) {
  const origin = device(null, T0, limit);
  await write(origin);
  const base = copyOf(origin.entries);
  return { base, a: device(base, T0 + 10 * MIN, limit), b: device(base, T0 + 20 * MIN, limit) };
}

describe('mergeVaults: the rules', () => {
  it('different names on the two sides: both kept, each with its history', async () => {
    const { base, a, b } = await fromBase((d) => d.set('x', 'x1'));
    await a.set('a', 'a1');
    await a.set('a', 'a2');
    await b.set('b', 'b1');
    const { merged, onA, onB } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect([await m.current('a'), await m.current('b'), await m.current('x')]).toEqual(['a2', 'b1', 'x1']);
    expect(await m.version('a', 1)).toMatchObject({ value: 'a1' });
    expect(onA).toEqual({ ...noReport, added: ['b'] });
    expect(onB).toEqual({ ...noReport, added: ['a'] });
  });

  it('a side unchanged since base takes the other side’s changes whole, its deletions included', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      await d.set('x', 'x1');
      await d.set('y', 'y1', FAR);
      await d.set('y', 'y2', FAR);
      await d.setKey(API_KEY, 'k1');
    });
    await b.set('x', 'x2', FAR);
    await b.remove('y');
    await b.removeKey(API_KEY);
    await b.setKey(ACCOUNT, '{"kind":"static"}');
    const { merged, onA } = mergeBoth(base, a.entries, b.entries);
    expect(dump(merged)).toEqual(dump(b.entries).sort());
    expect(onA).toEqual({ added: [ACCOUNT], changed: ['x'], deleted: ['y', API_KEY].sort(), conflicts: [] });
  });

  it('the same secret changed on both: the later write is current, the other value is the newest version with its own expiry', async () => {
    const { base, a, b } = await fromBase((d) => d.set('db/pw', 'v1'));
    await a.set('db/pw', 'from-a', FAR);
    await b.set('db/pw', 'from-b');
    const { merged, onA, onB } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect(await m.current('db/pw')).toBe('from-b');
    expect(await readExpiry(m.store, 'db/pw')).toBeNull(); // never the loser's expiry
    expect(await m.versions('db/pw')).toEqual([2, 1]);
    // The old value both replaced is kept once, as the earlier replacement.
    expect(await m.version('db/pw', 1)).toEqual({ value: 'v1', replaced_at: iso(T0 + 10 * MIN), expiresAt: null });
    expect(await m.version('db/pw', 2)).toEqual({ value: 'from-a', replaced_at: iso(T0 + 20 * MIN), expiresAt: FAR });
    await m.secrets.rollback('db/pw', 2);
    expect(await m.current('db/pw')).toBe('from-a');
    expect(await readExpiry(m.store, 'db/pw')).toBe(FAR);
    expect(onA).toEqual({ ...noReport, conflicts: ['db/pw'] });
    expect(onB).toEqual({ ...noReport, conflicts: ['db/pw'] });
  });

  it('the expiry goes with the winning value: the later write keeps its own, the loser’s goes into history with it', async () => {
    const { base, a, b } = await fromBase((d) => d.set('db/pw', 'v1', FAR));
    await a.set('db/pw', 'from-a'); // earlier, no expiry
    await b.set('db/pw', 'from-b', FAR + 60);
    const { merged } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect(await readExpiry(m.store, 'db/pw')).toBe(FAR + 60);
    expect(await m.version('db/pw', 2)).toMatchObject({ value: 'from-a', expiresAt: null });
    expect(await m.version('db/pw', 1)).toMatchObject({ value: 'v1', expiresAt: FAR });
  });

  it('a tie in `updated` goes by the bytes, alike on both devices', async () => {
    const { base, a } = await fromBase((d) => d.set('k', 'v1'));
    const b = device(base, a.clock.now());
    await a.set('k', 'aaa');
    await b.set('k', 'zzz');
    const { merged } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect(await m.current('k')).toBe('zzz');
    expect(await m.version('k', 2)).toMatchObject({ value: 'aaa' });
  });

  it('the same value and expiry written on both is no conflict: the later write, no version for the other', async () => {
    const { base, a, b } = await fromBase((d) => d.set('k', 'v1'));
    await a.set('k', 'same', FAR);
    await b.set('k', 'same', FAR);
    const { merged, onA, onB } = mergeBoth(base, a.entries, b.entries);
    expect(merged.get(secretKey('k'))?.updated).toBe(iso(T0 + 20 * MIN));
    expect(await device(merged, T0).versions('k')).toEqual([1]);
    expect(onA).toEqual(noReport); // the bytes did not change
    expect(onB).toEqual(noReport);
  });

  it('a delete against an edit: the deletion stands, the edit is the newest version, and a rollback restores it', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      await d.set('db/pw', 'v0');
      await d.set('db/pw', 'v1');
    });
    await a.remove('db/pw');
    await b.set('db/pw', 'edited', FAR);
    const { merged, onA, onB } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    const gone = await sigilErrorOf(m.secrets.get('db/pw'));
    expect(gone.code).toBe(ErrorCode.NOT_FOUND);
    expect(await m.secrets.list('')).toEqual([]);
    // v0's record went with the deletion (B left it as it was); B's own new record stays.
    expect(await m.versions('db/pw')).toEqual([3, 2]);
    expect(await m.version('db/pw', 2)).toMatchObject({ value: 'v1' });
    expect(await m.version('db/pw', 3)).toEqual({ value: 'edited', replaced_at: iso(T0 + 20 * MIN), expiresAt: FAR });
    expect(onA).toEqual({ ...noReport, conflicts: ['db/pw'] });
    expect(onB).toEqual({ ...noReport, conflicts: ['db/pw'] });
    await m.secrets.rollback('db/pw', 3);
    expect(await m.current('db/pw')).toBe('edited');
    expect(await readExpiry(m.store, 'db/pw')).toBe(FAR);
  });

  it('history a deletion left behind goes with `sigil secret rm` like any other', async () => {
    const { base, a, b } = await fromBase((d) => d.set('db/pw', 'v1'));
    await a.remove('db/pw');
    await b.set('db/pw', 'edited');
    const m = device(mergeBoth(base, a.entries, b.entries).merged, T0 + 30 * MIN);
    await m.secrets.delete('db/pw');
    expect(await m.store.list('')).toEqual([]);
  });

  it('both replaced a secret offline under the same version: both records kept, the later renumbered, each readable under its number', async () => {
    const { base, a, b } = await fromBase((d) => d.set('other', 'o'));
    await a.set('k', 'a1');
    await a.set('k', 'a2');
    await b.set('k', 'b1');
    await b.set('k', 'b2');
    const { merged, onA } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect(await m.current('k')).toBe('b2');
    expect(await m.versions('k')).toEqual([3, 2, 1]);
    expect(await m.version('k', 1)).toEqual({ value: 'a1', replaced_at: iso(T0 + 11 * MIN), expiresAt: null });
    expect(await m.version('k', 2)).toEqual({ value: 'b1', replaced_at: iso(T0 + 21 * MIN), expiresAt: null });
    expect(await m.version('k', 3)).toEqual({ value: 'a2', replaced_at: iso(T0 + 21 * MIN), expiresAt: null });
    expect(onA.conflicts).toEqual(['k']);
  });

  it('a history record pruned on one side and unchanged on the other is deleted', async () => {
    const { base, b } = await fromBase(async (d) => {
      for (const v of ['v1', 'v2', 'v3', 'v4']) await d.set('k', v);
    });
    const a = device(base, T0 + 10 * MIN, 2); // history = 2 here
    await a.set('k', 'v5');
    await b.set('other', 'o');
    const { merged } = mergeBoth(base, a.entries, b.entries, 2);
    expect(await device(merged, T0).versions('k')).toEqual([4, 3]);
  });

  it('history combined from both sides is pruned to the newest `historyLimit` versions', async () => {
    const limit = 3;
    const { base, a, b } = await fromBase(async (d) => {
      for (const v of ['x0', 'x1', 'x2', 'x3']) await d.set('k', v);
    }, limit);
    await a.set('k', 'a');
    await b.set('k', 'b');
    const { merged } = mergeBoth(base, a.entries, b.entries, limit);
    const m = device(merged, T0 + 30 * MIN);
    expect(await m.versions('k')).toEqual([5, 4, 3]);
    expect(await m.version('k', 5)).toMatchObject({ value: 'a' });
  });

  it('with history 0 a conflict’s loser is still kept, merging again keeps it, and the next write there prunes it', async () => {
    const { base, a, b } = await fromBase((d) => d.set('k', 'v1'), 0);
    await a.set('k', 'a');
    await b.set('k', 'b');
    const { merged } = mergeBoth(base, a.entries, b.entries, 0);
    const m = device(merged, T0 + 30 * MIN, 0);
    expect(await m.versions('k')).toEqual([1]);
    expect(await m.version('k', 1)).toMatchObject({ value: 'a' });
    for (const side of [a.entries, b.entries]) {
      expect(dump(merge(base, merged, side, 0).merged)).toEqual(dump(merged));
      expect(dump(merge(base, side, merged, 0).merged)).toEqual(dump(merged));
    }
    await m.set('k', 'c');
    expect(await m.versions('k')).toEqual([]);
  });

  it('opaque keys changed on both: the later write wins, without history; deleted against changed, the change stays', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      await d.setKey(API_KEY, 'k0');
      await d.setKey(ACCOUNT, '{"n":0}');
    });
    await a.setKey(API_KEY, 'ka');
    await a.removeKey(ACCOUNT);
    await b.setKey(API_KEY, 'kb');
    await b.setKey(ACCOUNT, '{"n":2}');
    const { merged, onA } = mergeBoth(base, a.entries, b.entries);
    expect([...merged.keys()]).toEqual([ACCOUNT, API_KEY]);
    expect(merged.get(API_KEY)?.value.toString()).toBe('kb');
    expect(merged.get(ACCOUNT)?.value.toString()).toBe('{"n":2}');
    expect(onA).toEqual({ ...noReport, added: [ACCOUNT], changed: [API_KEY] });
  });

  it('without a base: a key on one side only is kept, and on both and different the later is current, the other in history', async () => {
    const a = device(null, T0 + 10 * MIN);
    const b = device(null, T0 + 20 * MIN);
    await a.set('k', 'a1');
    await a.set('only-a', 'oa');
    await b.set('k', 'b1');
    await b.set('only-b', 'ob');
    await b.setKey(API_KEY, 'kb');
    const { merged, onA } = mergeBoth(null, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect([await m.current('k'), await m.current('only-a'), await m.current('only-b')]).toEqual(['b1', 'oa', 'ob']);
    expect(await m.version('k', 1)).toEqual({ value: 'a1', replaced_at: iso(T0 + 20 * MIN), expiresAt: null });
    expect(merged.get(API_KEY)?.value.toString()).toBe('kb');
    expect(onA).toEqual({ added: ['only-b', API_KEY].sort(), changed: [], deleted: [], conflicts: ['k'] });
  });

  it('the report names secrets by name and other keys by key, against ours; a conflict is in no other list', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      for (const name of ['s-changed', 's-deleted', 's-conflict']) await d.set(name, 'v0');
      await d.setKey('sigilforge/k-changed', 'v0');
      await d.setKey('sigilforge/k-deleted', 'v0');
    });
    await a.set('s-conflict', 'a');
    await b.set('s-conflict', 'b');
    await b.set('s-new', 'b');
    await b.set('s-changed', 'b');
    await b.remove('s-deleted');
    await b.setKey('sigilforge/k-new', 'b');
    await b.setKey('sigilforge/k-changed', 'b');
    await b.removeKey('sigilforge/k-deleted');
    const { onA } = mergeBoth(base, a.entries, b.entries);
    expect(onA).toEqual({
      added: ['s-new', 'sigilforge/k-new'],
      changed: ['s-changed', 'sigilforge/k-changed'],
      deleted: ['s-deleted', 'sigilforge/k-deleted'],
      conflicts: ['s-conflict'],
    });
  });

  it('names that share a history prefix ("db" and "db/1") merge apart', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      await d.set('db', 'd0');
      await d.set('db/1', 'e0');
    });
    await a.set('db', 'd1');
    await b.set('db', 'd2');
    await b.set('db/1', 'e1');
    const { merged, onA } = mergeBoth(base, a.entries, b.entries);
    const m = device(merged, T0 + 30 * MIN);
    expect(await m.versions('db')).toEqual([2, 1]);
    expect(await m.versions('db/1')).toEqual([1]);
    expect(await m.version('db/1', 1)).toMatchObject({ value: 'e0' });
    expect(onA).toEqual({ ...noReport, changed: ['db/1'], conflicts: ['db'] });
  });

  it('the inputs are left as they were and share no Buffer with the result', async () => {
    const { base, a, b } = await fromBase(async (d) => {
      await d.set('k', 'v0', FAR);
      await d.setKey(API_KEY, 'k0');
    });
    for (const d of [a, b]) {
      await d.set('k', `${d === a ? 'a' : 'b'}1`, FAR);
      await d.set('k', `${d === a ? 'a' : 'b'}2`);
      await d.set('new', 'n');
      await d.setKey(API_KEY, d === a ? 'ka' : 'kb');
    }
    const inputs = [base, a.entries, b.entries];
    const before = inputs.map(dump);
    const first = merge(base, a.entries, b.entries).merged;
    expect(inputs.map(dump)).toEqual(before);
    for (const e of first.values()) e.value.fill(0); // the caller wipes the result: the inputs stay
    expect(inputs.map(dump)).toEqual(before);

    const { merged } = merge(base, a.entries, b.entries);
    const result = dump(merged);
    for (const vault of inputs) for (const e of vault.values()) e.value.fill(0); // and the inputs: the result stays
    expect(dump(merged)).toEqual(result);
    expect(merged.size).toBeGreaterThan(6);
  });

  it('a corrupt expiry or write time in a conflict: INTERNAL naming the secret, never the value', () => {
    const at = (updated: string, value: string): VaultEntries => new Map([[secretKey('k'), { value: Buffer.from(value), updated }]]);
    const refused = (base: VaultEntries | null, ours: VaultEntries, theirs: VaultEntries) => {
      const err = sigilErrorThrown(() => merge(base, ours, theirs));
      expect(err.code).toBe(ErrorCode.INTERNAL);
      expect(err.message).toContain('"k"');
      expect(err.message).not.toContain('value-of');
    };
    // The losing value's expiry record is no record.
    const withBadExpiry = at(iso(T0), 'value-of-a').set(metaKey('k'), { value: Buffer.from('not json value-of-a'), updated: iso(T0) });
    refused(null, withBadExpiry, at(iso(T0 + MIN), 'value-of-b'));
    // Deleted against an edit made at a time that is none: its record would have no replaced_at.
    refused(at(iso(T0), 'value-of-0'), new Map(), at('not a time', 'value-of-b'));
  });

  it('10,000 entries with 100 changed on each side merge, every change accounted for', () => {
    const stamp = (m: number) => iso(T0 + m * MIN);
    const base: VaultEntries = new Map();
    for (let i = 0; i < 4000; i++) {
      base.set(secretKey(`app/${i}`), { value: Buffer.from(`v${i}`), updated: stamp(0) });
      if (i % 4 === 0) base.set(`sigilforge/_history/app/${i}/1`, { value: Buffer.from(JSON.stringify({ value: 'b2xk', replaced_at: stamp(0), version: 1 })), updated: stamp(0) });
    }
    for (let i = 0; i < 5000; i++) base.set(credentialKey('svc', `acct${i}`, 'api_key'), { value: Buffer.from(`k${i}`), updated: stamp(0) });
    expect(base.size).toBe(10_000);
    const ours = copyOf(base);
    const theirs = copyOf(base);
    for (let i = 0; i < 100; i++) {
      ours.set(secretKey(`app/${i}`), { value: Buffer.from(`ours${i}`), updated: stamp(1) }); // 0..99
      theirs.set(secretKey(`app/${i + 50}`), { value: Buffer.from(`theirs${i}`), updated: stamp(2) }); // 50..149: 50 on both
      ours.set(credentialKey('svc', `acct${i}`, 'api_key'), { value: Buffer.from('o'), updated: stamp(1) });
      theirs.delete(credentialKey('svc', `acct${4000 + i}`, 'api_key'));
    }
    const { merged, report } = merge(base, ours, theirs);
    expect(report.conflicts).toHaveLength(50);
    expect(report.changed).toHaveLength(50);
    expect(report.deleted).toHaveLength(100);
    expect(merged.size).toBe(10_000 - 100 + 50); // the deleted keys out, a history version per conflict in
    expect(merged.get(secretKey('app/99'))?.value.toString()).toBe('theirs49');
  });
});

describe('mergeVaults: converges (seeded random devices)', () => {
  const NAMES = ['db', 'db/1', 'app/key', 'x'];
  const VALUES = ['red', 'green', 'blue'];
  const KEYS = [API_KEY, ACCOUNT];

  /** What a person might do on one device: the agent's own operations, refusals ignored. */
  async function randomOps(rng: Rng, d: Device, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const name = rng.pick(NAMES);
      const op = rng.int(10);
      const attempt = (p: Promise<unknown>) => p.catch(() => d.clock.advance(MIN)); // NOT_FOUND: nothing to delete or roll back
      if (op < 5) await d.set(name, rng.pick(VALUES), rng.chance(0.3) ? FAR + rng.int(3) : undefined);
      else if (op < 6) await attempt(d.remove(name));
      else if (op < 8) {
        const versions = await listHistory(d.store, name);
        if (versions.length > 0) await d.step(d.secrets.rollback(name, rng.pick(versions).version));
      } else if (op < 9) await d.setKey(rng.pick(KEYS), rng.pick(VALUES));
      else await d.removeKey(rng.pick(KEYS));
    }
  }

  /** The values a secret holds after the merge: current first, then every kept version. */
  async function valuesOf(merged: VaultEntries, name: string): Promise<string[]> {
    const m = device(merged, T0);
    const out = [(await m.current(name)) ?? '(none)'];
    for (const v of await m.versions(name)) out.push((await m.version(name, v))!.value); // also: every record reads back
    return out;
  }

  for (const firstSync of [false, true]) {
    it(`${firstSync ? 'without a base' : 'from a base'}: (base, A, B) and (base, B, A) merge alike, merging again with either side changes nothing, and no device's last write is lost`, async () => {
      const rng = new Rng(firstSync ? 1212 : 2121);
      let conflicts = 0; // the loop must meet them, or it tests little
      for (let round = 0; round < 200; round++) {
        const limit = rng.pick([0, 1, 2, 3]);
        const origin = device(null, T0, limit);
        if (!firstSync) await randomOps(rng, origin, rng.int(8));
        const base = firstSync ? null : copyOf(origin.entries);
        // Starts a minute or two apart, a minute per write: the two often write at the same ms.
        const a = device(base, T0 + 60 * MIN + rng.int(2) * MIN, limit);
        const b = device(base, T0 + 60 * MIN + rng.int(2) * MIN, limit);
        await randomOps(rng, a, 1 + rng.int(6));
        await randomOps(rng, b, 1 + rng.int(6));
        const where = `round ${round}, history ${limit}`;

        const { merged, onA } = mergeBoth(base, a.entries, b.entries, limit);
        conflicts += onA.conflicts.length;
        for (const side of [a.entries, b.entries]) {
          expect(dump(merge(base, merged, side, limit).merged), where).toEqual(dump(merged));
          expect(dump(merge(base, side, merged, limit).merged), where).toEqual(dump(merged));
        }
        for (const name of NAMES) {
          const kept = await valuesOf(merged, name);
          for (const side of [a, b]) {
            const value = side.entries.get(secretKey(name));
            const before = base?.get(secretKey(name));
            const unchanged = before && value && before.updated === value.updated && before.value.equals(value.value);
            if (value && !unchanged) expect(kept, `${where}: ${name}`).toContain(value.value.toString());
          }
        }
      }
      expect(conflicts).toBeGreaterThan(50);
    });
  }

  it('any three vaults, however odd (corrupt records, colliding versions, equal times), merge alike both ways', () => {
    const rng = new Rng(777);
    const times = [0, 1, 2].map((m) => iso(T0 + m * MIN));
    const record = () =>
      rng.chance(0.15)
        ? Buffer.from(rng.pick(['{', 'null', '[]', '"x"']))
        : Buffer.from(JSON.stringify({ value: Buffer.from(rng.pick(VALUES)).toString('base64'), replaced_at: rng.pick(times), version: 1, ...(rng.chance(0.3) ? { expires_at: iso(FAR * 1000) } : {}) }));
    const vault = (): VaultEntries => {
      const out: VaultEntries = new Map();
      for (let i = rng.int(8); i > 0; i--) {
        const name = rng.pick(NAMES);
        const kind = rng.int(4);
        const key = kind === 0 ? secretKey(name) : kind === 1 ? metaKey(name) : kind === 2 ? `sigilforge/_history/${name}/${1 + rng.int(3)}` : rng.pick(KEYS);
        const value = kind === 1 ? Buffer.from(JSON.stringify({ expires_at: iso((FAR + rng.int(2)) * 1000) })) : kind === 2 ? record() : Buffer.from(rng.pick(VALUES));
        out.set(key, { value, updated: rng.pick(times) });
      }
      return out;
    };
    for (let round = 0; round < 500; round++) {
      const base = rng.chance(0.2) ? null : vault();
      // Each side: the base with some keys changed, dropped or added.
      const side = () => {
        const out = copyOf(base ?? new Map());
        for (const key of [...out.keys()]) if (rng.chance(0.3)) out.delete(key);
        for (const [key, e] of vault()) out.set(key, e);
        return out;
      };
      const a = side();
      const b = side();
      for (const limit of [0, 2]) mergeBoth(base, a, b, limit);
    }
  });
});
