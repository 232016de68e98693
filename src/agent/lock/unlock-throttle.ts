/**
 * Growing delay after wrong passphrases, so a process of the same user cannot guess at
 * socket speed (each guess already costs one scrypt, ~0.7 s). The first FREE_TRIES
 * failures are free (typos happen); after that each failure doubles the wait, capped.
 */
const FREE_TRIES = 3;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 5 * 60 * 1000; // slow enough to stop guessing, short enough not to lock a person out for long

export class UnlockThrottle {
  private failures = 0;
  private notBefore = 0;

  /** `now`: the agent's clock, in milliseconds. */
  constructor(private readonly now: () => number) {}

  /** Milliseconds to wait before the next attempt is allowed (0 = go ahead). */
  waitMs(): number {
    return Math.max(0, this.notBefore - this.now());
  }

  failed(): void {
    this.failures++;
    if (this.failures >= FREE_TRIES) {
      const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (this.failures - FREE_TRIES));
      this.notBefore = this.now() + delay;
    }
  }

  succeeded(): void {
    this.failures = 0;
    this.notBefore = 0;
  }

  get failureCount(): number {
    return this.failures;
  }
}
