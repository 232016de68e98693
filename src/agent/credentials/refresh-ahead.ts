import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import type { AccountRegistry } from './account-registry.js';
import { MAX_TIMER_MS, type Clock } from '../clock.js';
import { MIN_VALIDITY_S, refreshLeadS } from './token-service.js';

/**
 * Optional background refresh (`[agent] refresh_ahead = "10m"`): each OAuth account's token
 * is refreshed `window` before it expires, so `sigil-token` never waits for a provider. The
 * rule is get_token's (refreshLeadS): a token whose whole lifetime is shorter than twice the
 * window is refreshed at half-life instead, or a 60-second token would be refreshed in a
 * loop; and a window under get_token's 5 minutes counts as 5 minutes, or a caller would find
 * the token due before the background got to it.
 */
const RETRY_AFTER_ERROR_MS = 60_000; // a provider that is down is asked again, not hammered
const MIN_DELAY_MS = 1_000;

export interface RefreshAheadOptions {
  /** `[agent] refresh_ahead` in seconds; 0: off. */
  windowS: number;
  registry: Pick<AccountRegistry, 'get' | 'list'>;
  /** The token service's refresh (single flight per account, audited there). */
  refresh(service: string, account: string): Promise<unknown>;
  log: (msg: string) => void;
  clock: Clock;
}

export class RefreshAhead {
  private readonly timers = new Map<string, unknown>();
  private running = false;
  private readonly windowS: number;
  private readonly clock: Clock;

  constructor(private readonly opts: RefreshAheadOptions) {
    this.windowS = opts.windowS;
    this.clock = opts.clock;
  }

  get enabled(): boolean {
    return this.windowS > 0;
  }

  start(): void {
    if (!this.enabled) return;
    this.running = true;
    for (const a of this.opts.registry.list()) this.schedule(a.service, a.account);
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  /** Called whenever an account's tokens change. */
  tokensStored(service: string, account: string): void {
    this.schedule(service, account);
  }

  private schedule(service: string, account: string, delayMs?: number): void {
    if (!this.running) return;
    const key = `${service}/${account}`;
    const old = this.timers.get(key);
    if (old !== undefined) this.clock.clearTimeout(old);
    this.timers.delete(key);
    const meta = this.opts.registry.get(service, account);
    if (!meta || meta.kind !== 'oauth' || meta.needs_auth || meta.expires_at === undefined) return;
    let wait = delayMs;
    if (wait === undefined) {
      const now = this.clock.now() / 1000;
      const lead = refreshLeadS(meta, Math.max(this.windowS, MIN_VALIDITY_S));
      wait = Math.max(MIN_DELAY_MS, (meta.expires_at - lead - now) * 1000);
    }
    this.armAt(key, this.clock.now() + wait, () => void this.fire(service, account));
  }

  /** Runs `fn` at `due` (clock milliseconds); a wait past setTimeout's limit goes in steps. */
  private armAt(key: string, due: number, fn: () => void): void {
    const left = due - this.clock.now();
    const step = () => (left > MAX_TIMER_MS ? this.armAt(key, due, fn) : fn());
    this.timers.set(key, this.clock.setTimeout(step, Math.min(left, MAX_TIMER_MS)));
  }

  private async fire(service: string, account: string): Promise<void> {
    this.timers.delete(`${service}/${account}`);
    try {
      await this.opts.refresh(service, account);
      this.opts.log(`refreshed ${service}/${account} ahead of expiry`);
    } catch (err) {
      const e = err instanceof SigilError ? err : null;
      this.opts.log(`background refresh of ${service}/${account} failed: ${e?.message ?? String(err)}`);
      if (e?.code === ErrorCode.PROVIDER_ERROR) this.schedule(service, account, RETRY_AFTER_ERROR_MS);
    }
  }
}
