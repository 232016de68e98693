import type { Clock } from '../clock.js';
import type { LockListener } from '../lock/vault-lock.js';

/** How long after a write the sync waits for more (a burst of writes costs one sync). */
export const AFTER_WRITE_MS = 10_000;

export interface AutoSyncOptions {
  /** `[sync] auto`, in seconds (> 0). */
  everyS: number;
  clock: Clock;
  /** Runs one sync (failures are the sync's to record: it is retried at the next turn). */
  sync(): Promise<unknown>;
  /** Whether the vault syncs at all (`sigil sync init` may come later). */
  enabled(): boolean;
}

/**
 * `[sync] auto = "5m"`: while unlocked, a sync every `everyS`, and one soon after each write to
 * the shared vault (not after this device's sign-in writes, which never leave it; not after the
 * sync's own writes). Stops with the lock: merging needs the vault's key.
 */
export class AutoSync implements LockListener {
  private timer: unknown = null;
  private due = Infinity;
  private running = false;

  constructor(private readonly opts: AutoSyncOptions) {}

  unlocked(): void {
    this.schedule(this.opts.everyS * 1000);
  }

  locked(): void {
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    this.due = Infinity;
  }

  written(device: boolean): void {
    if (device || this.running || this.due === Infinity) return;
    this.schedule(AFTER_WRITE_MS);
  }

  /** Arms the timer for `ms` from now, unless it is due sooner already. */
  private schedule(ms: number): void {
    const at = this.opts.clock.now() + ms;
    if (this.timer !== null && this.due <= at) return;
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.due = at;
    this.timer = this.opts.clock.setTimeout(() => void this.fire(), ms);
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.running = true;
    try {
      if (this.opts.enabled()) await this.opts.sync().catch(() => undefined);
    } finally {
      this.running = false;
    }
    // Locked meanwhile: locked() set due to Infinity and nothing is armed again.
    if (this.due !== Infinity) {
      this.due = Infinity;
      this.schedule(this.opts.everyS * 1000);
    }
  }
}
