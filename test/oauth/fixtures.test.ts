/**
 * The OAuth test fixtures prove themselves here, driven by openid-client 6 directly (not by
 * Sigilforge's code): a real oidc-provider with headless Chromium logging in and consenting,
 * and the GitHub and Spotify fakes with their documented quirks.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveDevice, launchBrowser, loginAndConsent, type TestBrowser } from '../support/browser.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { startFakeSpotify, type FakeSpotify } from '../support/fake-spotify.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';

const insecure = { execute: [client.allowInsecureRequests] };

/** A one-shot loopback callback server, as the agent will run: first request wins, then closes. */
async function oneShotCallback(path = '/callback'): Promise<{ redirectUri: string; hit: Promise<URL>; close(): void }> {
  let resolveHit!: (u: URL) => void;
  const hit = new Promise<URL>((r) => (resolveHit = r));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', redirectUri);
    res.writeHead(url.pathname === path ? 200 : 404, { 'content-type': 'text/html', connection: 'close' });
    res.end('<h1>done, you can close this window</h1>');
    if (url.pathname === path) {
      resolveHit(url);
      server.close();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return { redirectUri, hit, close: () => server.close() };
}

async function pkce() {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier) };
}

/** GitHub answers OAuth errors with HTTP 200: make them 400 so openid-client sees an error. */
const githubFetch: client.CustomFetch = async (url, options) => {
  const res = await fetch(url, options as RequestInit);
  if (res.status !== 200 || !(res.headers.get('content-type') ?? '').includes('json')) return res;
  const body = (await res.clone().json()) as Record<string, unknown>;
  if (typeof body.error !== 'string') return res;
  return new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/json' } });
};

function timed<T>(label: string, timings: Record<string, number>, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  return f().finally(() => (timings[label] = Math.round(performance.now() - t0)));
}
const timings: Record<string, number> = {};
afterAll(() => {
  console.log('fixture timings (ms):', JSON.stringify(timings));
});

describe('oidc-provider fixture + headless Chromium', () => {
  let op: OidcServer;
  let browser: TestBrowser;
  let config: client.Configuration;

  beforeAll(async () => {
    [op, browser] = await timed('setup: oidc-provider + chromium', timings, () =>
      Promise.all([startOidcServer({ accessTokenTtlS: 1, deviceInterval: 1 }), launchBrowser()]),
    );
    config = await client.discovery(new URL(op.issuer), op.clientId, undefined, client.None(), insecure);
  });
  afterAll(async () => {
    await Promise.allSettled([op?.close(), browser?.close()]);
  });

  /** Full auth code + PKCE flow through the browser; returns the tokens. */
  async function authCode(login = 'alice') {
    const cb = await oneShotCallback();
    try {
      const { verifier, challenge } = await pkce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: cb.redirectUri,
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
      });
      const final = await loginAndConsent(browser.context, url.href, { login, decision: 'approve' });
      const got = await cb.hit;
      expect(final).toBe(got.href);
      expect(got.searchParams.get('state')).toBe(state);
      return await client.authorizationCodeGrant(config, got, { pkceCodeVerifier: verifier, expectedState: state });
    } finally {
      cb.close();
    }
  }

  it('auth code + PKCE: Chromium logs in and consents, loopback callback on an ephemeral port', async () => {
    const before = { ...op.counts };
    const tokens = await timed('oidc auth code + PKCE (browser)', timings, () => authCode('alice'));
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy(); // no offline_access asked
    expect(tokens.expires_in).toBe(1);
    expect(tokens.claims()?.sub).toBe('alice');
    expect(op.counts.authorizationCode).toBe(before.authorizationCode + 1);
    expect(op.counts.tokenRequests).toBe(before.tokenRequests + 1);

    // clockTolerance 0: a 1 s token is refused 1 s later (the default tolerance would be 15 s).
    await new Promise((r) => setTimeout(r, 1100));
    await expect(client.fetchUserInfo(config, tokens.access_token, 'alice')).rejects.toMatchObject({ status: 401 });
  });

  it('accepts any loopback port but only the registered path; PKCE is required', async () => {
    const base = { client_id: op.clientId, response_type: 'code', scope: 'openid', state: 's' };
    const { challenge } = await pkce();
    const auth = (extra: Record<string, string>) =>
      fetch(`${op.issuer}/auth?${new URLSearchParams({ ...base, ...extra })}`, { redirect: 'manual' });
    const ok = await auth({ redirect_uri: 'http://127.0.0.1:54321/callback', code_challenge: challenge, code_challenge_method: 'S256' });
    expect(ok.status).toBe(303);
    expect(new URL(ok.headers.get('location')!, op.issuer).pathname).toMatch(/^\/interaction\//);
    const wrongPath = await auth({ redirect_uri: 'http://127.0.0.1:54321/other', code_challenge: challenge, code_challenge_method: 'S256' });
    expect(wrongPath.status).toBe(400);
    expect(await wrongPath.text()).toContain('invalid_redirect_uri');
    const noPkce = await auth({ redirect_uri: 'http://127.0.0.1:54321/callback' });
    expect(noPkce.status).toBe(303);
    expect(new URL(noPkce.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('refresh rotates; reusing the old refresh token → invalid_grant and the grant is gone', async () => {
    const tokens = await authCode('bob');
    const before = op.counts.refresh;
    op.setAccessTokenTtl(5);
    const r1 = await timed('oidc one refresh', timings, () => client.refreshTokenGrant(config, tokens.refresh_token!));
    op.setAccessTokenTtl(1);
    expect(r1.expires_in).toBe(5);
    expect(r1.refresh_token).toBeTruthy();
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    expect(op.counts.refresh).toBe(before + 1);
    await expect(client.fetchUserInfo(config, r1.access_token, 'bob')).resolves.toMatchObject({ sub: 'bob' });

    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      name: 'ResponseBodyError',
      error: 'invalid_grant',
      status: 400,
    });
    // Reuse detection revoked the whole grant: the newest token is dead too.
    await expect(client.refreshTokenGrant(config, r1.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(op.counts.refresh).toBe(before + 3);
  });

  it('revokeAllGrants → invalid_grant; the revocation endpoint works for the public client', async () => {
    const tokens = await authCode('carol');
    const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await op.revokeAllGrants();
    await expect(client.refreshTokenGrant(config, r1.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const other = await authCode('carol');
    const revocationsBefore = op.counts.revocations;
    await client.tokenRevocation(config, other.refresh_token!, { token_type_hint: 'refresh_token' });
    expect(op.counts.revocations).toBe(revocationsBefore + 1);
    await expect(client.refreshTokenGrant(config, other.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('consent denied → access_denied at the callback', async () => {
    const cb = await oneShotCallback();
    try {
      const { verifier, challenge } = await pkce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: cb.redirectUri,
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
      });
      const final = await loginAndConsent(browser.context, url.href, { login: 'dave', decision: 'deny' });
      const got = await cb.hit;
      expect(final).toBe(got.href);
      expect(got.searchParams.get('error')).toBe('access_denied');
      await expect(
        client.authorizationCodeGrant(config, got, { pkceCodeVerifier: verifier, expectedState: state }),
      ).rejects.toMatchObject({ name: 'AuthorizationResponseError', error: 'access_denied' });
    } finally {
      cb.close();
    }
  });

  it('loginAndConsent returns the callback URL even when nothing listens there', async () => {
    const { challenge } = await pkce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:9/callback', // discard port: connection refused
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'nobody-home',
    });
    const final = new URL(await loginAndConsent(browser.context, url.href));
    expect(final.origin + final.pathname).toBe('http://127.0.0.1:9/callback');
    expect(final.searchParams.get('state')).toBe('nobody-home');
    expect(final.searchParams.get('code')).toBeTruthy();
  });

  it('device flow approved in the browser', async () => {
    const before = { ...op.counts };
    await timed('oidc device flow (browser, interval 1)', timings, async () => {
      const d = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      expect(d.interval).toBe(1);
      const polling = client.pollDeviceAuthorizationGrant(config, d);
      const page = await approveDevice(browser.context, d.verification_uri, d.user_code, { login: 'erin' });
      expect(page.heading).toBe('Sign-in Success');
      const tokens = await polling;
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.claims()?.sub).toBe('erin');
    });
    expect(op.counts.deviceCode).toBeGreaterThanOrEqual(before.deviceCode + 1);
    expect(op.counts.tokenRequests - before.tokenRequests).toBe(op.counts.deviceCode - before.deviceCode);
  });

  it('device flow denied in the browser → access_denied', async () => {
    const d = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const polling = client.pollDeviceAuthorizationGrant(config, d);
    polling.catch(() => {});
    const page = await approveDevice(browser.context, d.verification_uri, d.user_code, { login: 'frank', decision: 'deny' });
    expect(page.heading).not.toBe('Sign-in Success');
    await expect(polling).rejects.toMatchObject({ error: 'access_denied' });
  });
});

describe('fake GitHub', () => {
  let gh: FakeGithub;
  let config: client.Configuration;
  const clientId = 'Iv1.fake';

  beforeAll(async () => {
    gh = await startFakeGithub({ interval: 1, clientId });
    config = new client.Configuration(
      {
        issuer: gh.baseUrl,
        authorization_endpoint: gh.endpoints.authorization_endpoint,
        token_endpoint: gh.endpoints.token_endpoint,
        device_authorization_endpoint: gh.endpoints.device_authorization_endpoint,
      },
      clientId,
      undefined,
      client.None(),
    );
    client.allowInsecureRequests(config);
    config[client.customFetch] = githubFetch;
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('speaks form-encoding unless asked for JSON, and answers errors with HTTP 200', async () => {
    const form = await fetch(gh.endpoints.device_authorization_endpoint, {
      method: 'POST',
      body: new URLSearchParams({ client_id: clientId, scope: 'repo' }),
    });
    expect(form.status).toBe(200);
    expect(form.headers.get('content-type')).toContain('application/x-www-form-urlencoded');
    const d = new URLSearchParams(await form.text());
    expect(d.get('user_code')).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(d.get('expires_in')).toBe('899');
    expect(d.get('interval')).toBe('1');
    expect(d.get('verification_uri')).toBe(gh.endpoints.verification_uri);

    const poll = (accept?: string) =>
      fetch(gh.endpoints.token_endpoint, {
        method: 'POST',
        headers: accept ? { accept } : {},
        body: new URLSearchParams({ client_id: clientId, device_code: d.get('device_code')!, grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }),
      });
    const pending = await poll('application/json');
    expect(pending.status).toBe(200);
    expect(await pending.json()).toMatchObject({ error: 'authorization_pending' });
    // Polled again at once: slow_down, still HTTP 200, with the new interval (1 + 5).
    const slow = await poll();
    expect(slow.status).toBe(200);
    const slowBody = new URLSearchParams(await slow.text());
    expect(slowBody.get('error')).toBe('slow_down');
    expect(slowBody.get('interval')).toBe('6');
    expect(gh.counts.slowDowns).toBe(1);

    gh.expireDevice(d.get('user_code')!);
    expect(await (await poll('application/json')).json()).toMatchObject({ error: 'expired_token' });
  });

  it('device flow through openid-client with a customFetch turning 200-with-error into 400', async () => {
    gh.setMode('expiring');
    const before = gh.counts.devicePolls;
    const tokens = await timed('github device flow (interval 1, approved after 1st poll)', timings, async () => {
      const d = await client.initiateDeviceAuthorization(config, { scope: 'repo' });
      expect(d.user_code).toBe(gh.lastUserCode());
      const polling = client.pollDeviceAuthorizationGrant(config, d);
      while (gh.counts.devicePolls === before) await new Promise((r) => setTimeout(r, 50));
      gh.approveDevice(d.user_code, 'octo');
      return polling;
    });
    expect(gh.counts.devicePolls - before).toBe(2); // pending, then the token
    expect(tokens.access_token).toMatch(/^ghu_/);
    expect(tokens.refresh_token).toMatch(/^ghr_/);
    expect(tokens.expires_in).toBe(28800);
    expect(tokens.refresh_token_expires_in).toBe(15897600);
    expect(tokens.token_type).toBe('bearer');

    const me = await fetch(gh.endpoints.user_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await me.json()).toMatchObject({ login: 'octo' });

    // Refresh: rotated; the old one is dead at once → bad_refresh_token (HTTP 200 at GitHub).
    const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r1.access_token).toMatch(/^ghu_/);
    expect(r1.refresh_token).toMatch(/^ghr_/);
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'bad_refresh_token',
      error_description: 'The refresh token passed is incorrect or expired.',
    });
    const raw = await fetch(gh.endpoints.token_endpoint, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: new URLSearchParams({ client_id: clientId, grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toMatchObject({ error: 'bad_refresh_token' });
    expect(gh.counts.refresh).toBe(3);
  });

  it('without the customFetch openid-client cannot read the 200-with-error answer', async () => {
    const plain = new client.Configuration(config.serverMetadata(), clientId, undefined, client.None());
    client.allowInsecureRequests(plain);
    await expect(client.refreshTokenGrant(plain, 'ghr_nonsense')).rejects.toMatchObject({ code: 'OAUTH_INVALID_RESPONSE' });
  });

  it('device flow denied → access_denied', async () => {
    const d = await client.initiateDeviceAuthorization(config, { scope: 'repo' });
    gh.denyDevice(d.user_code);
    await expect(client.pollDeviceAuthorizationGrant(config, d)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('non-expiring mode: gho_ token, no expires_in, no refresh token', async () => {
    gh.setMode('non-expiring');
    try {
      const d = await client.initiateDeviceAuthorization(config, { scope: 'repo gist' });
      gh.approveDevice(d.user_code);
      const tokens = await client.pollDeviceAuthorizationGrant(config, d);
      expect(tokens.access_token).toMatch(/^gho_/);
      expect(tokens.expires_in).toBeUndefined();
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.scope).toBe('repo,gist');
    } finally {
      gh.setMode('expiring');
    }
  });

  it('web flow: authorize redirects at once; PKCE S256 checked', async () => {
    const { verifier, challenge } = await pkce();
    const redirect_uri = 'http://127.0.0.1:40000/callback';
    const url = client.buildAuthorizationUrl(config, { redirect_uri, scope: 'repo', state: 'st', code_challenge: challenge, code_challenge_method: 'S256' });
    const go = async () => new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
    const cb = await go();
    expect(cb.searchParams.get('state')).toBe('st');
    const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens.access_token).toMatch(/^ghu_/);

    const cb2 = await go();
    await expect(
      client.authorizationCodeGrant(config, cb2, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 'st' }),
    ).rejects.toMatchObject({ error: 'bad_verification_code' });

    gh.setAuthorizeDecision('deny');
    try {
      const denied = await go();
      expect(denied.searchParams.get('error')).toBe('access_denied');
      await expect(client.authorizationCodeGrant(config, denied, { pkceCodeVerifier: verifier, expectedState: 'st' })).rejects.toMatchObject({
        error: 'access_denied',
      });
    } finally {
      gh.setAuthorizeDecision('approve');
    }
  });
});

describe('fake Spotify', () => {
  let sp: FakeSpotify;
  let config: client.Configuration;
  const clientId = 'spotify-test-client';

  beforeAll(async () => {
    sp = await startFakeSpotify({ clientId });
    config = new client.Configuration(
      { issuer: sp.baseUrl, authorization_endpoint: sp.endpoints.authorization_endpoint, token_endpoint: sp.endpoints.token_endpoint },
      clientId,
      undefined,
      client.None(),
    );
    client.allowInsecureRequests(config);
  });
  afterAll(async () => {
    await sp?.close();
  });

  async function authorize() {
    const { verifier, challenge } = await pkce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:43210/callback',
      scope: 'user-read-private playlist-read-private',
      state: 'st',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const cb = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
    return { cb, verifier };
  }

  it('auth code + PKCE; refresh that rotates, then one that omits refresh_token', async () => {
    const { cb, verifier } = await authorize();
    const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'user-read-private playlist-read-private' });
    expect(tokens.refresh_token).toBeTruthy();
    const me = await fetch(sp.endpoints.me_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await me.json()).toMatchObject({ id: 'spotifyuser' });

    const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r1.refresh_token).toBeTruthy();
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: 'Invalid refresh token',
      status: 400,
    });

    sp.setRefreshRotation('omit');
    try {
      const r2 = await client.refreshTokenGrant(config, r1.refresh_token!);
      expect(r2.access_token).toBeTruthy();
      expect('refresh_token' in r2).toBe(false); // the field is absent: keep the old one
      const r3 = await client.refreshTokenGrant(config, r1.refresh_token!);
      expect(r3.access_token).not.toBe(r2.access_token);
    } finally {
      sp.setRefreshRotation('rotate');
    }
    expect(sp.counts).toMatchObject({ authorizationCode: 1, refresh: 4, tokenRequests: 5 });
  });

  it('wrong code_verifier → invalid_grant; denied → access_denied', async () => {
    const { cb } = await authorize();
    await expect(
      client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 'st' }),
    ).rejects.toMatchObject({ error: 'invalid_grant', error_description: 'code_verifier was incorrect' });

    sp.setAuthorizeDecision('deny');
    try {
      const { cb: denied, verifier } = await authorize();
      expect(Object.fromEntries(denied.searchParams)).toEqual({ error: 'access_denied', state: 'st' });
      await expect(client.authorizationCodeGrant(config, denied, { pkceCodeVerifier: verifier, expectedState: 'st' })).rejects.toMatchObject({
        name: 'AuthorizationResponseError',
        error: 'access_denied',
      });
    } finally {
      sp.setAuthorizeDecision('approve');
    }
  });
});
