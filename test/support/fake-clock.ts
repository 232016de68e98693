import type { Clock } from '../../src/agent/clock.js';

/**
 * A manual clock for the agent's parts: time moves only when the test says so, and the
 * timers due meanwhile fire in order, each at its time. Nothing waits for real time.
 */
export class FakeClock implements Clock {
  t: number;
  timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  constructor(start = 1_800_000_000_000) {
    this.t = start;
  }

  now = () => this.t;
  /** As Node's: a delay past its limit (~24.8 days) fires after 1 ms. */
  setTimeout = (fn: () => void, ms: number) => {
    if (ms > 2 ** 31 - 1) ms = 1;
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };

  /** Moves time on by `ms`, firing each timer due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  /** Milliseconds until the next timer fires (undefined: none armed). */
  nextTimerIn(): number | undefined {
    const at = Math.min(...this.timers.map((t) => t.at));
    return Number.isFinite(at) ? at - this.t : undefined;
  }
}
