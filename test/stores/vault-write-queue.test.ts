/**
 * The vault's write queue, observed at its file operations: never two writes at once, and a
 * burst of changes costs a few writes. The writer is slowed down so that changes really
 * do arrive while a write is in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileOps, type FileOps } from '../../src/stores/atomic-file.js';
import { createVault, openVault } from '../../src/stores/vault-store.js';
import { FAST, pass, readVaultDoc, tempVault, type TempVault } from './vault-helpers.js';

const probe = { inFlight: 0, maxInFlight: 0, writes: 0, failNext: false };

/** Vault writes (temp file, then rename) through a slow disk that fails when told to. */
const slowDisk: FileOps = {
  ...nodeFileOps,
  writeNew: async (...args) => {
    probe.inFlight++;
    probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
    probe.writes++;
    try {
      await new Promise((r) => setTimeout(r, 5)); // a slow disk
      if (probe.failNext) {
        probe.failNext = false;
        // EIO, not ENOSPC: a full disk is tried once more after the space reserve is given
        // back (atomic-file.ts), so a one-off ENOSPC would succeed on the second try.
        throw Object.assign(new Error('EIO: i/o error (simulated)'), { code: 'EIO' });
      }
      return await nodeFileOps.writeNew(...args);
    } finally {
      probe.inFlight--;
    }
  },
};

const K = (i: number) => `sigilforge/_secret/k${i}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('vault write queue', () => {
  let t: TempVault;
  afterEach(async () => t.cleanup());

  it('serializes and coalesces writes from many concurrent callers', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), { workFactor: FAST });
    const store = await openVault(t.paths, pass(), { workFactor: FAST, fileOps: slowDisk });
    Object.assign(probe, { inFlight: 0, maxInFlight: 0, writes: 0 });

    // Ten "clients", each setting 20 keys with random pauses: 200 changes in all.
    const client = async (c: number) => {
      for (let i = 0; i < 20; i++) {
        const n = c * 20 + i;
        if (Math.random() < 0.5) await sleep(Math.random() * 8);
        await store.set(K(n), Buffer.from(`v${n}`));
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, c) => client(c)));

    expect(probe.maxInFlight).toBe(1);
    expect(probe.writes).toBeGreaterThan(1);
    expect(probe.writes).toBeLessThan(100);
    const doc = await readVaultDoc(t.paths);
    expect(Object.keys(doc.entries)).toHaveLength(200);
    await store.close();
  });

  it('rejects every caller covered by a failed write, applies none of their changes, and carries on with the next one', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), { workFactor: FAST });
    const store = await openVault(t.paths, pass(), { workFactor: FAST, fileOps: slowDisk });
    probe.failNext = true;
    const results = await Promise.allSettled([1, 2, 3].map((i) => store.set(K(i), Buffer.from('v'))));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason.message)).toMatch(/^could not write the vault: EIO: i\/o error/);
    }
    expect(await store.list('')).toEqual([]);
    await store.set(K(4), Buffer.from('v'));
    expect(Object.keys((await readVaultDoc(t.paths)).entries).sort()).toEqual([K(4)]);
    expect(await store.list('')).toEqual([K(4)]);
    await store.close();
  });
});
