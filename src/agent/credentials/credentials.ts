import type { SigilConfig } from '../../config/config.js';
import type { Fetch } from '../../oauth/oauth-errors.js';
import { ProviderRegistry } from '../../oauth/provider-registry.js';
import { credentialKey } from '../../protocol/names.js';
import type { AccountRegistry } from './account-registry.js';
import type { AuditLog } from '../audit-log.js';
import type { Clock } from '../clock.js';
import { runNotifyCommand } from './notify.js';
import { RefreshAhead } from './refresh-ahead.js';
import { TokenService } from './token-service.js';
import type { LockListener, StoreGate } from '../lock/vault-lock.js';

export interface CredentialsOptions {
  store: StoreGate;
  registry: AccountRegistry;
  /** config.toml's [providers], [agent] (notify_cmd, refresh_ahead) and [tokens]. */
  config?: Pick<SigilConfig, 'providers' | 'agent' | 'tokens'>;
  /** Replaces fetch for provider requests (tests of failure modes). */
  fetch?: Fetch;
  audit: Pick<AuditLog, 'record'>;
  log: (msg: string) => void;
  clock: Clock;
}

/**
 * The accounts and what keeps them signed in: the account registry (accounts.toml), the
 * providers, the token service and the background refresh. While locked only the metadata
 * is known; the tokens, the providers' client secrets and the refresh timers go with the store.
 */
export class Credentials implements LockListener {
  readonly registry: AccountRegistry;
  readonly providers: ProviderRegistry;
  readonly tokens: TokenService;
  readonly refreshAhead: RefreshAhead;

  constructor(private readonly opts: CredentialsOptions) {
    this.registry = opts.registry;
    this.providers = new ProviderRegistry(opts.config?.providers ?? {}, (service) => this.clientSecret(service), opts.fetch);
    const notifyCmd = opts.config?.agent.notifyCmd;
    this.tokens = new TokenService({
      store: opts.store,
      registry: opts.registry,
      providers: this.providers,
      audit: opts.audit,
      log: opts.log,
      clock: opts.clock,
      persistAccessTokens: opts.config?.tokens?.persistAccessTokens ?? true,
      onNeedsAuth: (meta, reason) => {
        if (notifyCmd) runNotifyCommand(notifyCmd, { service: meta.service, account: meta.account, event: 'needs_auth', reason }, opts.log);
      },
      onStored: (service, account) => this.refreshAhead.tokensStored(service, account),
    });
    this.refreshAhead = new RefreshAhead({
      windowS: opts.config?.agent.refreshAheadS ?? 0,
      registry: opts.registry,
      refresh: (service, account) => this.tokens.refresh(service, account),
      log: opts.log,
      clock: opts.clock,
    });
  }

  async locking(): Promise<void> {
    this.refreshAhead.stop();
    // A refresh in flight stores its rotated refresh token before the vault closes; the last
    // uses since accounts.toml's last write are kept too (a lock comes before every shutdown).
    await Promise.all([this.tokens.settle(), this.tokens.flushLastUsed()]);
  }

  locked(): void {
    this.providers.forget();
    this.tokens.forget();
  }

  unlocked(): void {
    this.refreshAhead.start();
  }

  /** A provider's client secret, kept in the vault (never in config.toml); null while locked. */
  private async clientSecret(service: string): Promise<string | null> {
    if (this.opts.store.locked) return null;
    const value = await this.opts.store.requireStore().get(credentialKey(service, '_provider', 'client_secret'));
    if (!value) return null;
    const text = value.toString('utf8');
    value.fill(0);
    return text;
  }
}
