import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { launchBrowser, loginAndConsent, type TestBrowser } from '../support/browser.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import { closedPort } from '../support/loopback-http.js';
import type { Sandbox } from '../support/sandbox.js';
import { agentWithConfig, oidcProvider, spawnSigil } from '../oauth/flow-helpers.js';

/**
 * `sigil accounts remove` said "Removed …" whether or not the provider revoked the grant (the
 * TUI said it): now it says revoked, no revocation endpoint (revoke it there: the page when
 * known), or revocation failed and why — and --json carries the same.
 */
/** An OAuth account with a refresh token, stored straight through set_token (no sign-in). */
async function oauthAccount(sb: Sandbox, service: string, account: string): Promise<void> {
  const c = await AgentClient.connect({ socketPath: sb.socket });
  try {
    await c.request('set_token', { service, account, access_token: Buffer.from('at-0123456789'), refresh_token: Buffer.from('rt-0123456789'), expires_in: 3600 });
  } finally {
    c.close();
  }
}

describe('accounts remove against a real OpenID provider (it has a revocation endpoint)', () => {
  let op: OidcServer;
  let browser: TestBrowser;
  let sb: Sandbox;
  beforeAll(async () => {
    op = await startOidcServer();
    browser = await launchBrowser();
    sb = await agentWithConfig(oidcProvider(op));
  });
  afterAll(async () => {
    sb?.cleanup();
    await browser?.close();
    await op?.close();
  });

  async function signIn(account: string): Promise<void> {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'corp', account, '--browser', '--no-open']);
    const [, url] = await cmd.waitFor(/\n {2}(http:\/\/\S+)\n/);
    await loginAndConsent(browser.context, url!, { login: account });
    expect((await cmd.done).code).toBe(0);
  }

  it('says the provider revoked the grant', async () => {
    await signIn('alice');
    const before = op.counts.revocations;
    const r = await sb.sigil(['accounts', 'remove', 'corp', 'alice']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Removed corp/alice (2 credentials); the provider revoked the grant.\n');
    expect(op.counts.revocations).toBe(before + 1);
  });

  it('--json carries the outcome', async () => {
    await signIn('bob');
    const r = await sb.sigil(['accounts', 'remove', 'corp', 'bob', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ service: 'corp', account: 'bob', removed_credentials: 2, revoked: true, revocation: 'revoked' });
  });
});

describe('accounts remove without revocation at the provider', () => {
  let sb: Sandbox;
  let port: number;
  beforeEach(async () => {
    port = await closedPort();
    sb = await agentWithConfig(
      // github: the preset's own endpoints (never contacted here); own: a provider without a
      // revocation endpoint; down: one whose revocation endpoint does not answer.
      `[providers.github]\nclient_id = "Iv1.sigiltest"\n\n` +
        `[providers.own]\nclient_id = "x"\nauthorization_endpoint = "http://127.0.0.1:${port}/authorize"\ntoken_endpoint = "http://127.0.0.1:${port}/token"\n\n` +
        `[providers.down]\nclient_id = "x"\nauthorization_endpoint = "http://127.0.0.1:${port}/authorize"\ntoken_endpoint = "http://127.0.0.1:${port}/token"\nrevocation_endpoint = "http://127.0.0.1:${port}/revoke"\n`,
    );
  });
  afterEach(() => sb.cleanup());

  it('names the page to revoke it by hand when the preset knows it', async () => {
    await oauthAccount(sb, 'github', 'work');
    const r = await sb.sigil(['accounts', 'remove', 'github', 'work']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Removed github/work (2 credentials); the provider has no revocation endpoint, revoke it there: https://github.com/settings/applications\n');
  });

  it('says there is no revocation endpoint (no page known), also in --json', async () => {
    await oauthAccount(sb, 'own', 'me');
    await oauthAccount(sb, 'own', 'json');
    const r = await sb.sigil(['accounts', 'remove', 'own', 'me']);
    expect(r.stderr).toBe('Removed own/me (2 credentials); the provider has no revocation endpoint: revoke it in your account settings there\n');
    const j = await sb.sigil(['accounts', 'rm', '--json', 'own', 'json']);
    expect(JSON.parse(j.stdout)).toEqual({ service: 'own', account: 'json', removed_credentials: 2, revoked: false, revocation: 'unsupported' });
  });

  it('says why the revocation failed, and the account is removed all the same', async () => {
    await oauthAccount(sb, 'down', 'me');
    const r = await sb.sigil(['accounts', 'remove', 'down', 'me']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^Removed down\/me \(2 credentials\); revocation failed: .+\n$/);
    expect(JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout)).toEqual([]);
  });

  it('a static token has nothing to revoke', async () => {
    expect((await sb.sigil(['token', 'set', 'slack', 'bot', '--stdin'], { input: 'xoxb-0123456789\n' })).code).toBe(0);
    const r = await sb.sigil(['accounts', 'remove', 'slack', 'bot', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ service: 'slack', account: 'bot', removed_credentials: 1, revoked: false, revocation: 'none' });
  });
});
