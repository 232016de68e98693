import type * as oidc from 'openid-client';
import type { Fetch } from './oauth-errors.js';
import { resolveProvider, type Provider } from './provider-config.js';

/**
 * The agent's providers: config.toml over the presets, each configured (and discovered)
 * once and kept; a failed configuration is not kept, so the next use tries again.
 */
export class ProviderRegistry {
  private readonly configs = new Map<string, Promise<oidc.Configuration>>();

  constructor(
    private readonly providers: Record<string, Record<string, unknown>>,
    /** The provider's client secret from the store, when it needs one. */
    private readonly clientSecret: (service: string) => Promise<string | null>,
    private readonly baseFetch?: Fetch,
  ) {}

  provider(service: string): Provider {
    return resolveProvider(service, this.providers);
  }

  configuration(service: string): Promise<oidc.Configuration> {
    let config = this.configs.get(service);
    if (!config) {
      const p = this.provider(service);
      config = Promise.all([this.clientSecret(service), import('./provider-client.js')]).then(([secret, { configureProvider }]) =>
        configureProvider(p, secret, this.baseFetch),
      );
      this.configs.set(service, config);
      config.catch(() => this.configs.delete(service));
    }
    return config;
  }

  /** Drops cached configurations (they may hold a client secret): on lock. */
  forget(): void {
    this.configs.clear();
  }
}
