/**
 * The agent's one clock: every part reads the time and schedules its timers (idle lock,
 * refresh ahead, idle GC, flow expiry) through it, so a test drives them all with a fake one
 * and nothing waits for real time. Only this module reads the system clock.
 */
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // the listening socket keeps the agent alive, not a part's timer
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * setTimeout's limit (~24.8 days): Node fires a longer delay after 1 ms, so a part that waits
 * longer (a token that lives for months) arms its timer in steps of at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The clock's time in whole Unix seconds (token expiry, protocol times). */
export function nowS(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
