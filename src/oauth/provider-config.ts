import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { FlowKind } from '../protocol/results.js';
import { PRESETS, type ProviderEndpoints, type ProviderQuirks } from './provider-presets.js';

/** A provider ready to use: preset and config.toml merged, URLs checked. */
export interface Provider extends ProviderEndpoints {
  name: string;
  client_id: string;
  scopes: string[];
  auth_params: Record<string, string>;
  /** The browser sign-in's loopback port; undefined: any free one. */
  redirect_port?: number;
  quirks: ProviderQuirks;
  /** `scopes` is the default of an issuer found by discovery, not configured: see defaultScopes. */
  scopesDefaulted?: boolean;
}

const URL_KEYS: readonly (keyof ProviderEndpoints)[] = ['issuer', 'authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'revocation_endpoint'];

/** Plain http is allowed only to this machine: that is how tests run a real provider. */
export function isLoopbackUrl(url: URL): boolean {
  const h = url.hostname;
  return h === 'localhost' || h === '[::1]' || /^127(\.\d{1,3}){3}$/.test(h);
}

function checkUrl(name: string, key: string, value: unknown): string {
  const where = `providers.${name}.${key}`;
  if (typeof value !== 'string') throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "${where}" must be a URL string`, { field: key });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "${where}" is not a URL: ${value}`, { field: key });
  }
  if (url.protocol === 'https:') return value;
  if (url.protocol === 'http:' && isLoopbackUrl(url)) return value;
  throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "${where}" must use https (plain http only for 127.0.0.1, ::1 or localhost): ${value}`, { field: key });
}

/** Resolves a provider by name from config.toml's [providers.NAME] over the built-in preset. */
export function resolveProvider(name: string, providers: Record<string, Record<string, unknown>>): Provider {
  const preset = PRESETS[name];
  const cfg = providers[name] ?? {};
  if (!preset && !providers[name]) {
    throw new SigilError(
      ErrorCode.NOT_FOUND,
      `no provider "${name}": add [providers.${name}] to config.toml (issuer = "…" or explicit endpoints, client_id = "…"), or use a built-in one: ${Object.keys(PRESETS).join(', ')}`,
    );
  }
  const clientId = cfg.client_id;
  if (typeof clientId !== 'string' || clientId === '') {
    throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: [providers.${name}] needs client_id = "…" (register an OAuth app with ${name} to get one)`, { field: 'client_id' });
  }
  const p: Provider = {
    name,
    client_id: clientId,
    scopes: preset?.scopes ?? [],
    auth_params: { ...preset?.auth_params },
    quirks: { ...preset?.quirks },
  };
  for (const key of URL_KEYS) {
    const v = cfg[key] ?? preset?.[key];
    if (v !== undefined) p[key] = checkUrl(name, key, v);
  }
  // A config that names its own endpoints replaces the preset's discovery, and vice versa.
  if (cfg.issuer !== undefined && cfg.authorization_endpoint === undefined && cfg.token_endpoint === undefined && preset) {
    delete p.authorization_endpoint;
    delete p.token_endpoint;
    if (cfg.device_authorization_endpoint === undefined) delete p.device_authorization_endpoint;
  }
  // An OpenID issuer with no scopes configured: `openid`, or it is plain OAuth 2.0 (no ID
  // token, and Keycloak, Okta and others refuse or narrow the grant).
  if (!preset && cfg.scopes === undefined && p.issuer && !p.token_endpoint) {
    p.scopes = ['openid'];
    p.scopesDefaulted = true;
  }
  if (cfg.scopes !== undefined) {
    if (!Array.isArray(cfg.scopes) || !cfg.scopes.every((s) => typeof s === 'string')) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "providers.${name}.scopes" must be a list of strings`, { field: 'scopes' });
    }
    p.scopes = cfg.scopes as string[];
  }
  if (cfg.auth_params !== undefined) {
    if (typeof cfg.auth_params !== 'object' || cfg.auth_params === null) throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "providers.${name}.auth_params" must be a table`, { field: 'auth_params' });
    for (const [k, v] of Object.entries(cfg.auth_params)) p.auth_params[k] = String(v);
  }
  const port = cfg.redirect_port ?? preset?.redirect_port;
  if (port !== undefined) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: "providers.${name}.redirect_port" must be a port number from 1 to 65535`, { field: 'redirect_port' });
    }
    p.redirect_port = port;
  }
  if (cfg.errors_with_http_200 === true) p.quirks.errorsWithHttp200 = true;
  if (!p.issuer && !(p.authorization_endpoint || p.device_authorization_endpoint)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: [providers.${name}] needs issuer = "…" (discovery) or authorization_endpoint/token_endpoint`, { field: 'issuer' });
  }
  if (!p.issuer && !p.token_endpoint) throw new SigilError(ErrorCode.BAD_REQUEST, `config.toml: [providers.${name}] needs token_endpoint`, { field: 'token_endpoint' });
  return p;
}

/**
 * The scopes a flow asks for when neither the request nor the account names any: the
 * provider's, plus `offline_access` for a defaulted discovery provider whose metadata offers
 * it — Okta and Auth0 issue a refresh token only for it, Keycloak's then outlives the browser
 * session. Not asked where not offered: some issuers (GitLab) refuse a scope they do not know.
 */
export function defaultScopes(p: Provider, meta: { scopes_supported?: string[] } | undefined): string[] {
  return p.scopesDefaulted && meta?.scopes_supported?.includes('offline_access') ? [...p.scopes, 'offline_access'] : p.scopes;
}

/** Which flows a provider can run, from what it has. */
export function supportedFlows(p: Provider, discovered?: { authorization_endpoint?: string; device_authorization_endpoint?: string }): FlowKind[] {
  const flows: FlowKind[] = [];
  if (p.authorization_endpoint || discovered?.authorization_endpoint) flows.push('auth_code');
  if (p.device_authorization_endpoint || discovered?.device_authorization_endpoint) flows.push('device');
  return flows;
}
