import * as oidc from 'openid-client';
import { startCallbackServer } from './callback-server.js';
import type { Provider } from './provider-config.js';

/**
 * Authorization code + PKCE (S256) with a loopback redirect. `start` returns the URL to
 * open at once; `tokens` settles when the browser comes back (or the signal aborts).
 */
export interface StartedAuthCode {
  authorization_url: string;
  tokens: Promise<oidc.TokenEndpointResponse>;
}

export async function startAuthCodeFlow(
  config: oidc.Configuration,
  provider: Provider,
  scopes: string[],
  signal: AbortSignal,
): Promise<StartedAuthCode> {
  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const state = oidc.randomState();
  const callback = await startCallbackServer(state, provider.redirect_port);
  signal.addEventListener('abort', () => callback.close(), { once: true });

  const params: Record<string, string> = {
    ...provider.auth_params,
    redirect_uri: callback.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  };
  if (scopes.length) params.scope = scopes.join(' ');
  const url = oidc.buildAuthorizationUrl(config, params);

  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  const tokens = (async () => {
    try {
      const redirect = await Promise.race([callback.result, aborted]);
      return await oidc.authorizationCodeGrant(config, redirect, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        idTokenExpected: scopes.includes('openid'),
      });
    } finally {
      callback.close();
    }
  })();
  tokens.catch(() => {}); // observed by the flow manager; never an unhandled rejection
  return { authorization_url: url.href, tokens };
}
