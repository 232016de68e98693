import * as oidc from 'openid-client';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { describeError } from './oauth-errors.js';
import { isLoopbackUrl, type Provider } from './provider-config.js';
import type { Fetch } from './oauth-errors.js';

/**
 * openid-client Configurations for providers, built once per agent and provider. All
 * provider-specific behaviour lives in the fetch hook and the metadata, so the flows and
 * the refresher are written once.
 */

/** A provider that does not answer within this long counts as down (PROVIDER_ERROR). */
const PROVIDER_TIMEOUT_MS = 30_000;
/**
 * Sent on every request to a provider, in place of openid-client's own: Reddit answers 429
 * to requests without a User-Agent of their own (a library's default counts as none).
 */
const PROVIDER_USER_AGENT = `sigilforge/${VERSION}`;

/** The fetch every provider request goes through: a timeout, our User-Agent, and the provider's quirks. */
export function providerFetch(p: Provider, base: Fetch = fetch): oidc.CustomFetch {
  const revocation = p.revocation_endpoint && new URL(p.revocation_endpoint).href;
  return async (url, options) => {
    const headers = { ...options.headers, 'user-agent': PROVIDER_USER_AGENT };
    const res = await base(url, { ...options, headers, signal: options.signal ?? AbortSignal.timeout(PROVIDER_TIMEOUT_MS) } as RequestInit);
    // RFC 7009 says a revocation answers 200; Reddit's answers 204 No Content. Both mean revoked.
    if (res.status === 204 && url === revocation) return new Response(null, { status: 200, headers: res.headers });
    if (!p.quirks.errorsWithHttp200 || res.status !== 200) return res;
    // GitHub answers OAuth errors (authorization_pending, bad_refresh_token, …) with
    // HTTP 200; RFC 6749 says 400. Rewrite them so errors are errors everywhere.
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('json')) return res;
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const status = body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string' ? 400 : 200;
    return new Response(text, { status, headers: res.headers });
  };
}

function usesHttp(p: Provider): boolean {
  return [p.issuer, p.authorization_endpoint, p.token_endpoint, p.device_authorization_endpoint, p.revocation_endpoint].some(
    (u) => u !== undefined && new URL(u).protocol === 'http:' && isLoopbackUrl(new URL(u)),
  );
}

/**
 * openid-client's "discovered metadata issuer does not match the expected issuer", with both
 * issuers named: the fix is nearly always to copy the provider's spelling into config.toml
 * (a trailing slash, a realm path). The provider's is quoted as JSON, since it is the
 * provider's text.
 */
function issuerMismatch(p: Provider, err: unknown): string | null {
  const cause = (err as { cause?: { attribute?: unknown; body?: { issuer?: unknown } } } | null)?.cause;
  if (cause?.attribute !== 'issuer') return null;
  const found = typeof cause.body?.issuer === 'string' ? JSON.stringify(cause.body.issuer.slice(0, 300)) : 'no issuer';
  return `the issuer in its metadata is ${found}, but the configured issuer is "${p.issuer}" (the two must be identical)`;
}

/**
 * HTTP Basic client authentication (RFC 6749 §2.3.1) that allows an empty password, which
 * openid-client's ClientSecretBasic refuses: Reddit's installed apps have no secret.
 */
function basicAuth(clientSecret: string): oidc.ClientAuth {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return (_as, client, _body, headers) => {
    headers.set('authorization', `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(clientSecret)}`).toString('base64')}`);
  };
}

function clientAuth(p: Provider, clientSecret: string | null): oidc.ClientAuth {
  if (p.quirks.basicAuth) return basicAuth(clientSecret ?? '');
  return clientSecret ? oidc.ClientSecretPost(clientSecret) : oidc.None();
}

export async function configureProvider(p: Provider, clientSecret: string | null, baseFetch?: Fetch): Promise<oidc.Configuration> {
  const auth = clientAuth(p, clientSecret);
  const hook = providerFetch(p, baseFetch);
  const insecure = usesHttp(p);
  let config: oidc.Configuration;
  const explicit = {
    ...(p.authorization_endpoint ? { authorization_endpoint: p.authorization_endpoint } : {}),
    ...(p.token_endpoint ? { token_endpoint: p.token_endpoint } : {}),
    ...(p.device_authorization_endpoint ? { device_authorization_endpoint: p.device_authorization_endpoint } : {}),
    ...(p.revocation_endpoint ? { revocation_endpoint: p.revocation_endpoint } : {}),
  };
  if (p.issuer && !p.token_endpoint) {
    try {
      const found = await oidc.discovery(new URL(p.issuer), p.client_id, undefined, auth, {
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        [oidc.customFetch]: hook,
      });
      const { supportsPKCE: _helper, ...discovered } = found.serverMetadata();
      config = new oidc.Configuration({ ...discovered, ...explicit }, p.client_id, undefined, auth);
    } catch (err) {
      throw new SigilError(ErrorCode.PROVIDER_ERROR, `discovery at ${p.issuer} failed: ${issuerMismatch(p, err) ?? describeError(err)}`, { cause: err, field: 'issuer' });
    }
  } else {
    // Plain OAuth 2.0: no issuer to discover; the token endpoint's origin stands in for it.
    const issuer = p.issuer ?? new URL(p.token_endpoint!).origin;
    config = new oidc.Configuration({ issuer, ...explicit }, p.client_id, undefined, auth);
  }
  if (insecure) oidc.allowInsecureRequests(config);
  config[oidc.customFetch] = hook;
  return config;
}
