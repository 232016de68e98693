import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { startFakeReddit, type FakeReddit } from '../support/fake-reddit.js';
import { closedPort } from '../support/loopback-http.js';
import type { Sandbox } from '../support/sandbox.js';
import { agentWithConfig, followingBrowser, makeDue, spawnSigil } from './flow-helpers.js';

/**
 * The reddit preset against a fake with Reddit's quirks (test/support/fake-reddit.ts): an
 * installed app's client by HTTP Basic auth with an empty password, `duration=permanent` or no
 * refresh token, 429 for a request without a User-Agent of its own, errors with HTTP 200,
 * refresh answers without a refresh_token (the old one stays), revocation answered 204, and
 * only the registered redirect URI (so a fixed port). Only the endpoints and the port are
 * configured here: the rest is the preset's.
 */
/** What this test's own requests to the fake send. */
const TEST_UA = 'sigilforge-test-suite';

describe('Reddit (fake with its quirks)', () => {
  let rd: FakeReddit;
  let sb: Sandbox;
  let port: number;
  beforeEach(async () => {
    port = await closedPort();
    rd = await startFakeReddit({ clientId: 'reddit-installed-app', redirectUri: `http://127.0.0.1:${port}/callback` });
    const e = rd.endpoints;
    sb = await agentWithConfig(
      `[providers.reddit]\nclient_id = "reddit-installed-app"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\nrevocation_endpoint = "${e.revocation_endpoint}"\nscopes = ["identity", "read"]\nredirect_port = ${port}\n`,
    );
  });
  afterEach(async () => {
    sb.cleanup();
    await rd.close();
  });

  const signIn = (account: string) => spawnSigil(sb, ['accounts', 'add', 'reddit', account, '--browser'], { BROWSER: followingBrowser(sb) }).done;

  it('signs in an installed app (Basic auth, empty secret, duration=permanent) and refreshes keeping the refresh token', async () => {
    const r = await signIn('me');
    expect(r.stderr).toContain('Authorized reddit/me with scopes identity read');
    expect(r.stderr).toContain('create an "installed app" at https://www.reddit.com/prefs/apps');
    expect(r.code).toBe(0);
    expect(rd.lastAuthorize).toMatchObject({
      client_id: 'reddit-installed-app',
      response_type: 'code',
      duration: 'permanent',
      scope: 'identity read',
      redirect_uri: `http://127.0.0.1:${port}/callback`,
    });
    expect(rd.counts.authorizationCode).toBe(1);
    expect(rd.liveRefreshTokens()).toBe(1);

    // Reddit's refresh answers carry no refresh_token: each refresh must present the first one
    // again (the fake issued no other, so a lost one would end in invalid_grant).
    for (let i = 1; i <= 3; i++) {
      await makeDue(sb, 'reddit', 'me');
      const t = await sb.token('reddit', 'me');
      expect(t.stderr).toBe('');
      expect(t.code).toBe(0);
      expect(rd.counts.refresh).toBe(i);
      const me = await fetch(rd.endpoints.me_endpoint, { headers: { authorization: `bearer ${t.stdout.trim()}`, 'user-agent': TEST_UA } });
      expect(await me.json()).toEqual({ name: 'sigil_tester' });
    }
    const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { status: string }[];
    expect(accounts[0]!.status).toBe('valid');

    expect(rd.counts.tooManyRequests).toBe(0);
    expect(new Set(rd.userAgents.filter((ua) => ua !== TEST_UA))).toEqual(new Set([`sigilforge/${VERSION}`]));
  });

  it('revokes the grant on removal though Reddit answers 204, not 200', async () => {
    expect((await signIn('gone')).code).toBe(0);
    const r = await sb.sigil(['accounts', 'remove', 'reddit', 'gone']);
    expect(r.stderr).toBe('Removed reddit/gone (2 credentials); the provider revoked the grant.\n');
    expect(r.code).toBe(0);
    expect(rd.counts.revocations).toBe(1);
    expect(rd.liveRefreshTokens()).toBe(0);
  });

  it('treats invalid_grant sent with HTTP 200 as signed out', async () => {
    expect((await signIn('stale')).code).toBe(0);
    // Revoked behind the agent's back (as on reddit.com/prefs/apps): the next refresh fails.
    const gone = await fetch(rd.endpoints.revocation_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('reddit-installed-app:').toString('base64')}`, 'user-agent': TEST_UA, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: await refreshTokenOf(sb, 'reddit', 'stale') }),
    });
    expect(gone.status).toBe(204);
    await makeDue(sb, 'reddit', 'stale');
    const t = await sb.token('reddit', 'stale');
    expect(t.code).toBe(9);
    expect(t.stderr).toContain('(invalid_grant)');
  });

  it('says which port is taken when the registered redirect port is in use, and signs in nothing', async () => {
    const squatter = createServer().listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const r = await signIn('busy');
      expect(r.stderr).toContain(`the sign-in redirect's port ${port} (redirect_port) is in use by another program on 127.0.0.1`);
      expect(r.code).toBe(2);
      expect(rd.counts.authorizeRequests).toBe(0);
    } finally {
      squatter.close();
    }
  });

  it('sends a web app\'s client secret from the vault by Basic auth', async () => {
    rd.setClientSecret('web-app-secret-1');
    expect((await sb.sigil(['providers', 'secret', 'reddit', '--stdin'], { input: 'web-app-secret-1' })).code).toBe(0);
    const r = await signIn('web');
    expect(r.stderr).toContain('Authorized reddit/web with scopes identity');
    await makeDue(sb, 'reddit', 'web');
    expect((await sb.token('reddit', 'web')).code).toBe(0);
    expect(rd.counts.refresh).toBe(1);
  });
});

/** The account's refresh token, by reference (`sigil resolve`), to revoke it at the fake. */
async function refreshTokenOf(sb: Sandbox, service: string, account: string): Promise<string> {
  const r = await sb.sigil(['resolve', `auth://${service}/${account}/refresh_token`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}
