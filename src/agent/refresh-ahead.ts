import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { AgentState } from './agent-state.js';
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

export class RefreshAhead {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = false;

  constructor(
    private readonly state: AgentState,
    private readonly windowS: number,
  ) {}

  get enabled(): boolean {
    return this.windowS > 0;
  }

  start(): void {
    if (!this.enabled) return;
    this.running = true;
    for (const a of this.state.registry.list()) this.schedule(a.service, a.account);
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Called whenever an account's tokens change. */
  tokensStored(service: string, account: string): void {
    this.schedule(service, account);
  }

  private schedule(service: string, account: string, delayMs?: number): void {
    if (!this.running) return;
    const key = `${service}/${account}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const meta = this.state.registry.get(service, account);
    if (!meta || meta.kind !== 'oauth' || meta.needs_auth || meta.expires_at === undefined) return;
    let wait = delayMs;
    if (wait === undefined) {
      const now = Date.now() / 1000;
      const lead = refreshLeadS(meta, Math.max(this.windowS, MIN_VALIDITY_S));
      wait = Math.max(MIN_DELAY_MS, (meta.expires_at - lead - now) * 1000);
    }
    const timer = setTimeout(() => void this.fire(service, account), wait);
    timer.unref();
    this.timers.set(key, timer);
  }

  private async fire(service: string, account: string): Promise<void> {
    this.timers.delete(`${service}/${account}`);
    try {
      await this.state.tokens.refresh(service, account);
      this.state.log(`refreshed ${service}/${account} ahead of expiry`);
    } catch (err) {
      const e = err instanceof SigilError ? err : null;
      this.state.log(`background refresh of ${service}/${account} failed: ${e?.message ?? String(err)}`);
      if (e?.code === ErrorCode.PROVIDER_ERROR) this.schedule(service, account, RETRY_AFTER_ERROR_MS);
    }
  }
}
