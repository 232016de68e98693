import { describe, expect, it } from 'vitest';
import { IdleLock } from '../../../src/agent/lock/idle-lock.js';
import { UnlockThrottle } from '../../../src/agent/lock/unlock-throttle.js';
import { FakeClock } from '../../support/fake-clock.js';

describe('IdleLock', () => {
  it('expires after the timeout of idle time', () => {
    const clock = new FakeClock();
    let locked = 0;
    const idle = new IdleLock(60, () => locked++, clock);
    idle.start();
    clock.advance(59_999);
    expect(locked).toBe(0);
    expect(idle.locksIn()).toBeCloseTo(0.001);
    clock.advance(1);
    expect(locked).toBe(1);
    expect(idle.locksIn()).toBeNull();
  });

  it('counts from the last use, with one timer at a time', () => {
    const clock = new FakeClock();
    let locked = 0;
    const idle = new IdleLock(60, () => locked++, clock);
    idle.start();
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      idle.touch();
    }
    expect(locked).toBe(0);
    expect(clock.timers.length).toBe(1);
    clock.advance(60_000);
    expect(locked).toBe(1);
  });

  it('never expires with timeout 0, and stops when locked by hand', () => {
    const clock = new FakeClock();
    let locked = 0;
    const never = new IdleLock(0, () => locked++, clock);
    never.start();
    clock.advance(1e9);
    expect(never.locksIn()).toBeNull();
    const idle = new IdleLock(10, () => locked++, clock);
    idle.start();
    idle.stop();
    clock.advance(1e6);
    expect(locked).toBe(0);
  });
});

describe('UnlockThrottle', () => {
  it('lets typos through, then doubles the wait, and resets on success', () => {
    let now = 0;
    const t = new UnlockThrottle(() => now);
    t.failed();
    t.failed();
    expect(t.waitMs()).toBe(0);
    t.failed();
    expect(t.waitMs()).toBe(1000);
    now += 1000;
    t.failed();
    expect(t.waitMs()).toBe(2000);
    now += 2000;
    t.failed();
    expect(t.waitMs()).toBe(4000);
    for (let i = 0; i < 30; i++) t.failed();
    expect(t.waitMs()).toBe(5 * 60 * 1000);
    t.succeeded();
    expect(t.waitMs()).toBe(0);
    expect(t.failureCount).toBe(0);
  });
});
