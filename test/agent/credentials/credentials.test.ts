import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountRegistry, type AccountMeta } from '../../../src/agent/credentials/account-registry.js';
import { Credentials } from '../../../src/agent/credentials/credentials.js';
import { RefreshAhead } from '../../../src/agent/credentials/refresh-ahead.js';
import type { StoreGate } from '../../../src/agent/lock/vault-lock.js';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { SigilError } from '../../../src/protocol/errors.js';
import { credentialKey } from '../../../src/protocol/names.js';
import { nodeFileOps, type FileOps } from '../../../src/stores/atomic-file.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { eventually } from '../../support/sandbox.js';
import { FakeClock } from '../../support/fake-clock.js';

/**
 * The credentials part alone: a memory store, accounts.toml in a temporary directory and a
 * fake clock. When a token is due (get_token's rule, min(5 min, half the issued lifetime)) and
 * when refresh ahead fires, without a provider and without waiting.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(opts: { fileOps?: FileOps } = {}) {
  const clock = new FakeClock();
  const dir = mkdtempSync(join(tmpdir(), 'sigil-credentials-'));
  dirs.push(dir);
  const store = new MemoryStore();
  const gate: StoreGate = { locked: false, requireStore: () => store, requireDeviceStore: () => store, storeWrites: 0 };
  const registry = AccountRegistry.load(join(dir, 'accounts.toml'), opts);
  const credentials = new Credentials({ store: gate, registry, audit: { record: () => {} }, log: () => {}, clock });
  const nowS = () => Math.floor(clock.now() / 1000);
  /** An OAuth account whose token was issued now and lives `lifetimeS` (issued_at omitted: an older entry). */
  const account = async (name: string, lifetimeS: number, opts: { issuedAt?: boolean; kind?: AccountMeta['kind'] } = {}) => {
    await store.set(credentialKey('corp', name, 'access_token'), Buffer.from(`token-${name}`));
    await registry.put({
      service: 'corp',
      account: name,
      kind: opts.kind ?? 'oauth',
      created: new Date(clock.now()).toISOString(),
      expires_at: nowS() + lifetimeS,
      ...(opts.issuedAt === false ? {} : { issued_at: nowS() }),
    });
  };
  /** Served from memory (not due), or null: due, the general path would refresh. */
  const served = (name: string) => credentials.tokens.getTokenNow('corp', name)?.access_token ?? null;
  return { clock, credentials, registry, dir, account, served };
}

describe('a token is due min(5 min, half its issued lifetime) before it expires', () => {
  it.each([
    [3600, 3300],
    [300, 150],
    [120, 60],
  ])('a %i s token is served for %i s, then due', async (lifetime, servedFor) => {
    const { clock, account, served } = await setup();
    await account('a', lifetime);
    clock.advance((servedFor - 1) * 1000);
    expect(served('a')).toBe('token-a');
    clock.advance(1000);
    expect(served('a')).toBeNull();
  });

  it('without issued_at (stored by an older agent) the 5 minutes count: a 60 s token is due at once', async () => {
    const { account, served } = await setup();
    await account('old', 60, { issuedAt: false });
    expect(served('old')).toBeNull();
    await account('long', 3600, { issuedAt: false });
    expect(served('long')).toBe('token-long');
  });

  it('a static token is served until it expires, not refreshed before', async () => {
    const { clock, account, served } = await setup();
    await account('s', 300, { kind: 'static' });
    clock.advance(299_000);
    expect(served('s')).toBe('token-s');
    clock.advance(1000);
    expect(served('s')).toBeNull();
  });

  it('says when each account was last used, by the clock', async () => {
    const { clock, credentials, account, served } = await setup();
    await account('a', 3600);
    clock.advance(5000);
    served('a');
    expect(credentials.tokens.lastUsedAt('corp', 'a')).toBe(Math.floor(clock.now() / 1000));
  });
});

describe('last used reaches accounts.toml at most once a minute per account', () => {
  it('writes the first use, none within the minute, one after it, and the rest on lock', async () => {
    let writes = 0;
    const fileOps: FileOps = {
      ...nodeFileOps,
      rename: async (from, to) => {
        await nodeFileOps.rename(from, to);
        if (to.endsWith('accounts.toml')) writes++;
      },
    };
    const { clock, credentials, registry, dir, account, served } = await setup({ fileOps });
    await account('a', 3600);
    const base = writes; // the account itself
    const T = Math.floor(clock.now() / 1000);
    const onDisk = () => AccountRegistry.load(join(dir, 'accounts.toml')).get('corp', 'a')?.last_used;

    expect(served('a')).toBe('token-a');
    await eventually(() => writes === base + 1);
    expect(onDisk()).toBe(T);
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      expect(served('a')).toBe('token-a');
    }
    // In memory the last use is exact; on disk it stays the first until the minute is over.
    expect(credentials.tokens.lastUsedAt('corp', 'a')).toBe(T + 50);
    expect(onDisk()).toBe(T);
    clock.advance(10_000);
    expect(served('a')).toBe('token-a');
    // Writes are queued in order: had any use within the minute written, this would not be the second.
    await eventually(() => writes >= base + 2);
    expect(writes).toBe(base + 2);
    expect(onDisk()).toBe(T + 60);

    clock.advance(30_000);
    served('a');
    await credentials.locking();
    expect(writes).toBe(base + 3);
    expect(onDisk()).toBe(T + 90);
    expect(registry.get('corp', 'a')?.last_used).toBe(T + 90);
    // Nothing new: the next lock writes nothing.
    await credentials.locking();
    expect(writes).toBe(base + 3);
  });
});

describe('refresh ahead fires on the fake clock', () => {
  function refreshAhead(windowS: number, metas: AccountMeta[]) {
    const clock = new FakeClock();
    const refreshed: { account: string; at: number }[] = [];
    let fail: SigilError | null = null;
    const byName = new Map(metas.map((m) => [m.account, m]));
    const ra = new RefreshAhead({
      windowS,
      registry: { get: (_s, a) => byName.get(a), list: () => metas },
      refresh: async (_s, account) => {
        refreshed.push({ account, at: clock.now() });
        if (fail) throw fail;
      },
      log: () => {},
      clock,
    });
    return { clock, ra, refreshed, failWith: (e: SigilError | null) => (fail = e) };
  }
  const T = 1_800_000_000; // FakeClock's start, in seconds
  const meta = (account: string, lifetimeS: number, issued = true): AccountMeta => ({
    service: 'corp',
    account,
    kind: 'oauth',
    created: '2027-01-15T08:00:00.000Z',
    expires_at: T + lifetimeS,
    ...(issued ? { issued_at: T } : {}),
  });

  it('window before expiry, half-life for tokens shorter than twice the window, and at least get_token’s 5 minutes', async () => {
    const { clock, ra, refreshed } = refreshAhead(600, [meta('hour', 3600), meta('short', 300)]);
    ra.start();
    clock.advance(3600_000);
    await Promise.resolve();
    expect(refreshed).toEqual([
      { account: 'short', at: (T + 150) * 1000 },
      { account: 'hour', at: (T + 3000) * 1000 },
    ]);
    const small = refreshAhead(60, [meta('hour', 3600)]);
    small.ra.start();
    small.clock.advance(3600_000);
    expect(small.refreshed).toEqual([{ account: 'hour', at: (T + 3300) * 1000 }]);
  });

  it('asks a provider that is down again a minute later, and stops with the lock', async () => {
    const { clock, ra, refreshed, failWith } = refreshAhead(600, [meta('hour', 3600)]);
    failWith(new SigilError(ErrorCode.PROVIDER_ERROR, 'down'));
    ra.start();
    clock.advance(3000_000);
    await new Promise((r) => setImmediate(r));
    expect(refreshed).toHaveLength(1);
    clock.advance(60_000);
    await new Promise((r) => setImmediate(r));
    expect(refreshed).toHaveLength(2);
    ra.stop();
    expect(clock.timers).toEqual([]);
    clock.advance(3600_000);
    expect(refreshed).toHaveLength(2);
  });

  it('a token living longer than setTimeout can wait (~24.8 days) is refreshed when due, not a millisecond later', async () => {
    const { clock, ra, refreshed } = refreshAhead(600, [meta('quarter', 90 * 86_400)]);
    ra.start();
    clock.advance(60_000);
    expect(refreshed).toEqual([]);
    clock.advance(90 * 86_400_000);
    expect(refreshed).toEqual([{ account: 'quarter', at: (T + 90 * 86_400 - 600) * 1000 }]);
  });

  it('is off with window 0', () => {
    const { clock, ra } = refreshAhead(0, [meta('hour', 3600)]);
    ra.start();
    expect(clock.timers).toEqual([]);
  });
});
