import * as oidc from 'openid-client';

/**
 * The device authorization grant (RFC 8628): the person enters `user_code` at
 * `verification_uri` on any device; we poll at the provider's pace (openid-client honours
 * `interval` and `slow_down`).
 */
export interface StartedDevice {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval: number;
  tokens: Promise<oidc.TokenEndpointResponse>;
}

/** RFC 8628 §3.2: when the provider names no interval, clients wait 5 s. */
const DEFAULT_INTERVAL_S = 5;

export async function startDeviceFlow(config: oidc.Configuration, scopes: string[], signal: AbortSignal): Promise<StartedDevice> {
  const params: Record<string, string> = {};
  if (scopes.length) params.scope = scopes.join(' ');
  const auth = await oidc.initiateDeviceAuthorization(config, params);
  // openid-client checks the signal only between polls: race it so cancel is immediate.
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  const tokens = Promise.race([oidc.pollDeviceAuthorizationGrant(config, auth, undefined, { signal }), aborted]);
  tokens.catch(() => {});
  const started: StartedDevice = {
    user_code: auth.user_code,
    verification_uri: auth.verification_uri,
    expires_in: auth.expires_in,
    interval: auth.interval ?? DEFAULT_INTERVAL_S,
    tokens,
  };
  if (auth.verification_uri_complete) started.verification_uri_complete = auth.verification_uri_complete;
  return started;
}
