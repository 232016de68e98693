import { describe, expect, it } from 'vitest';
import { AFTER_WRITE_MS, AutoSync } from '../../../src/agent/sync/auto-sync.js';
import { FakeClock } from '../../support/fake-clock.js';

/** `[sync] auto`: when the agent syncs by itself, driven by a fake clock (nothing waits). */
describe('AutoSync', () => {
  function setup(everyS = 300) {
    const clock = new FakeClock();
    let syncs = 0;
    let release: (() => void) | null = null;
    let hold = false;
    const auto = new AutoSync({
      everyS,
      clock,
      enabled: () => true,
      sync: () => {
        syncs++;
        return hold ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
    });
    const settle = () => new Promise((r) => setImmediate(r));
    return {
      clock,
      auto,
      settle,
      get syncs() {
        return syncs;
      },
      holdSyncs(v: boolean) {
        hold = v;
      },
      finish() {
        release?.();
      },
    };
  }

  it('syncs every interval while unlocked, and not at all once locked', async () => {
    const t = setup(300);
    t.auto.unlocked();
    t.clock.advance(299_000);
    expect(t.syncs).toBe(0);
    t.clock.advance(1000);
    await t.settle();
    expect(t.syncs).toBe(1);
    t.clock.advance(300_000);
    await t.settle();
    expect(t.syncs).toBe(2);
    t.auto.locked();
    t.clock.advance(3_000_000);
    await t.settle();
    expect(t.syncs).toBe(2);
  });

  it('a write to the shared vault brings the sync forward (a burst costs one); a sign-in write does not', async () => {
    const t = setup(300);
    t.auto.unlocked();
    t.auto.written(true); // this device's tokens: they never sync
    t.clock.advance(AFTER_WRITE_MS);
    await t.settle();
    expect(t.syncs).toBe(0);
    t.auto.written(false);
    t.clock.advance(1000);
    t.auto.written(false);
    t.clock.advance(AFTER_WRITE_MS);
    await t.settle();
    expect(t.syncs).toBe(1);
    // Then the interval again, from the sync.
    t.clock.advance(299_000);
    await t.settle();
    expect(t.syncs).toBe(1);
    t.clock.advance(2000);
    await t.settle();
    expect(t.syncs).toBe(2);
  });

  it("ignores the sync's own writes, and a write while locked", async () => {
    const t = setup(300);
    t.auto.written(false); // locked: nothing armed
    t.clock.advance(AFTER_WRITE_MS * 2);
    await t.settle();
    expect(t.syncs).toBe(0);
    t.auto.unlocked();
    t.holdSyncs(true);
    t.clock.advance(300_000);
    await t.settle();
    expect(t.syncs).toBe(1);
    t.auto.written(false); // the merge writing the vault
    t.holdSyncs(false);
    t.finish();
    await t.settle();
    t.clock.advance(AFTER_WRITE_MS);
    await t.settle();
    expect(t.syncs).toBe(1);
  });
});
