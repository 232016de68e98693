import { MAX_TIMER_MS, type Clock } from '../clock.js';

/**
 * The lock timeout: idle time since the last request that used a secret. One timer is
 * armed for the deadline and, when it fires early because of later use, re-armed for the
 * remainder (OpenSSH's reaper() idea) — so a request costs one clock.now(), not a
 * clearTimeout/setTimeout pair.
 */
export class IdleLock {
  private lastUse = 0;
  private timer: unknown = null;
  private running = false;

  /** timeoutS 0 disables the timeout. */
  constructor(
    private timeoutS: number,
    private readonly onExpire: () => void,
    private readonly clock: Clock,
  ) {}

  get timeoutSeconds(): number {
    return this.timeoutS;
  }

  start(): void {
    this.running = true;
    this.touch();
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  touch(now = this.clock.now()): void {
    this.lastUse = now;
  }

  /** Seconds until the agent locks itself; null when locked or when there is no timeout. */
  locksIn(): number | null {
    if (!this.running || this.timeoutS <= 0) return null;
    return Math.max(0, (this.lastUse + this.timeoutS * 1000 - this.clock.now()) / 1000);
  }

  private arm(): void {
    if (!this.running || this.timeoutS <= 0) return;
    const remaining = this.lastUse + this.timeoutS * 1000 - this.clock.now();
    if (remaining <= 0) {
      this.stop();
      this.onExpire();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.arm();
    }, Math.min(remaining, MAX_TIMER_MS));
  }
}
