import type * as oidc from 'openid-client';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { Fetch } from './oauth-errors.js';
import { resolveProvider, supportedFlows, type Provider } from './provider-config.js';

/**
 * The agent's providers: config.toml over the presets, each configured (and discovered)
 * once and kept; a failed configuration is not kept, so the next use tries again.
 */
export class ProviderRegistry {
  private readonly configs = new Map<string, Promise<oidc.Configuration>>();
  /**
   * What discovery found per provider (no secret in it, so kept across locks): until then
   * `providers list` cannot say which flows an issuer offers.
   */
  private readonly discoveredMeta = new Map<string, oidc.ServerMetadata>();
  /** config.toml's [providers.*] tables: the registry's own copy, grown by add(). */
  private readonly providers: Record<string, Record<string, unknown>>;

  constructor(
    providers: Record<string, Record<string, unknown>>,
    /** The provider's client secret from the store, when it needs one. */
    private readonly clientSecret: (service: string) => Promise<string | null>,
    private readonly baseFetch?: Fetch,
  ) {
    this.providers = { ...providers };
  }

  provider(service: string): Provider {
    return resolveProvider(service, this.providers);
  }

  /** Providers named in config.toml (as loaded, plus those added since). */
  names(): string[] {
    return Object.keys(this.providers);
  }

  /** config.toml's [providers.NAME] table as the agent knows it (a copy), or undefined. */
  table(name: string): Record<string, unknown> | undefined {
    return Object.hasOwn(this.providers, name) ? structuredClone(this.providers[name]) : undefined;
  }

  /** Whether config.toml (as the agent knows it) has a [providers.NAME] table. */
  has(name: string): boolean {
    return Object.hasOwn(this.providers, name);
  }

  /**
   * Checks a [providers.NAME] table before it is saved: the same validation as config.toml
   * (URLs, http only on loopback, client_id), and for an issuer without explicit endpoints a
   * real discovery — a typo in the issuer fails here (PROVIDER_ERROR), not at the first sign-in.
   */
  async check(name: string, table: Record<string, unknown>): Promise<Provider> {
    const p = resolveProvider(name, { [name]: table });
    if (p.issuer && !p.token_endpoint) {
      const { configureProvider } = await import('./provider-client.js');
      const config = await configureProvider(p, null, this.baseFetch);
      const meta = config.serverMetadata();
      this.discoveredMeta.set(name, meta);
      if (supportedFlows(p, meta).length === 0) {
        throw new SigilError(ErrorCode.PROVIDER_ERROR, `discovery at ${p.issuer} found neither an authorization_endpoint nor a device_authorization_endpoint`, { field: 'issuer' });
      }
    }
    return p;
  }

  /** Makes a [providers.NAME] table usable at once (after it has been saved to config.toml). */
  add(name: string, table: Record<string, unknown>): void {
    this.providers[name] = table;
    this.configs.delete(name);
  }

  /** A discovery provider's metadata once discovered (by a flow, a refresh or add_provider's check). */
  discovered(service: string): oidc.ServerMetadata | undefined {
    return this.discoveredMeta.get(service);
  }

  configuration(service: string): Promise<oidc.Configuration> {
    let config = this.configs.get(service);
    if (!config) {
      const p = this.provider(service);
      config = Promise.all([this.clientSecret(service), import('./provider-client.js')]).then(async ([secret, { configureProvider }]) => {
        const c = await configureProvider(p, secret, this.baseFetch);
        if (p.issuer && !p.token_endpoint) this.discoveredMeta.set(service, c.serverMetadata());
        return c;
      });
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
