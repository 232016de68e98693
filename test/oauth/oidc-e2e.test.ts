import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { approveDevice, launchBrowser, loginAndConsent, type Decision, type TestBrowser } from '../support/browser.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import { eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { makeDue, oidcSuite, spawnSigil, writeConfig } from './flow-helpers.js';

/**
 * The whole OAuth path against a real OpenID provider (oidc-provider) and a real browser
 * (Debian's headless Chromium): the agent runs the flows, the CLI shows what to do, the
 * browser signs in and consents.
 */
describe('OAuth against a real OpenID provider', () => {
  const suite = oidcSuite({
    provider: { accessTokenTtlS: 60, deviceInterval: 1 },
    configHead: (sb) => `[agent]\nnotify_cmd = "echo \\"$SIGIL_SERVICE/$SIGIL_ACCOUNT $SIGIL_EVENT\\" >> ${join(sb.home, 'notified.txt')}"\n\n`,
  });
  let op: OidcServer;
  let browser: TestBrowser;
  let sb: Sandbox;
  beforeEach(() => ({ op, browser, sb } = suite));
  const addWithBrowser = (account: string, decision?: Decision) => suite.signIn(account, decision);

  it('adds an account with authorization code + PKCE, then serves its token', async () => {
    const before = op.counts.authorizationCode;
    const r = await addWithBrowser('alice');
    expect(r.stderr).toContain('Authorized corp/alice');
    expect(r.code).toBe(0);
    expect(op.counts.authorizationCode).toBe(before + 1);
    const tok = await sb.token('corp', 'alice');
    expect(tok.code).toBe(0);
    expect(tok.stdout).toMatch(/^\S{20,}\n$/);
    const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as Record<string, unknown>[];
    expect(accounts).toMatchObject([{ service: 'corp', account: 'alice', kind: 'oauth', scopes: ['openid'] }]);
    // Through the agent, which flushes its buffered audit lines first.
    const audit = JSON.parse((await sb.sigil(['audit', '--json', '-n', '50'])).stdout) as { op: string; target?: string; result: string }[];
    expect(audit).toContainEqual(expect.objectContaining({ op: 'flow_complete', target: 'corp/alice', result: 'ok' }));
  });

  it('adds an account with the device flow approved in the browser', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'corp', 'bob', '--device']);
    const [, uri] = await cmd.waitFor(/visit (\S+) and enter the code/);
    const [, code] = await cmd.waitFor(/\n {4}(\S+)\n/);
    await approveDevice(browser.context, uri!, code!, { login: 'bob' });
    const r = await cmd.done;
    expect(r.stderr).toContain('Authorized corp/bob');
    expect(r.code).toBe(0);
    expect((await sb.token('corp', 'bob')).code).toBe(0);
  });

  it('refreshes an expiring token, and the rotated refresh token survives an agent restart', async () => {
    expect((await addWithBrowser('carol')).code).toBe(0);
    // Each use finds the token due, so each refreshes — and each refresh rotates the refresh token.
    const refreshes = op.counts.refresh;
    await makeDue(sb, 'corp', 'carol');
    const first = await sb.token('corp', 'carol');
    await makeDue(sb, 'corp', 'carol');
    const second = await sb.token('corp', 'carol');
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toBe(first.stdout);
    expect(op.counts.refresh).toBe(refreshes + 2);

    const status = JSON.parse((await sb.sigil(['status', '--json'])).stdout) as { pid: number };
    process.kill(status.pid, 'SIGTERM');
    await eventually(() => !existsSync(sb.socket));
    await sb.startAgent();
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);
    // Had the old refresh token been kept, the provider would now revoke the whole grant.
    await makeDue(sb, 'corp', 'carol');
    const after = await sb.token('corp', 'carol');
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
    expect(op.counts.refresh).toBe(refreshes + 3);
  });

  it('serves a cached token without refreshing while it has more than 5 minutes left', async () => {
    op.setAccessTokenTtl(3600);
    try {
      expect((await addWithBrowser('dave')).code).toBe(0);
      const refreshes = op.counts.refresh;
      const a = await sb.token('corp', 'dave');
      const b = await sb.token('corp', 'dave');
      expect(a.stdout).toBe(b.stdout);
      expect(op.counts.refresh).toBe(refreshes);
      expect((await sb.sigil(['token', 'refresh', 'corp', 'dave'])).code).toBe(0);
      expect(op.counts.refresh).toBe(refreshes + 1);
    } finally {
      op.setAccessTokenTtl(60);
    }
  });

  it('refreshes once for 200 concurrent callers of an expired account', async () => {
    expect((await addWithBrowser('erin')).code).toBe(0);
    await makeDue(sb, 'corp', 'erin');
    const refreshes = op.counts.refresh;
    const clients = await Promise.all(Array.from({ length: 20 }, () => AgentClient.connect({ socketPath: sb.socket })));
    try {
      const answers = await Promise.all(
        clients.flatMap((c) => Array.from({ length: 10 }, () => c.request<{ access_token: string }>('get_token', { service: 'corp', account: 'erin' }))),
      );
      expect(answers).toHaveLength(200);
      expect(new Set(answers.map((a) => a.access_token)).size).toBe(1);
      expect(op.counts.refresh).toBe(refreshes + 1);
      // Audited: 200 get_token lines, and one line for the one refresh at the provider.
      const audit = JSON.parse((await sb.sigil(['audit', '--json', '-n', '1000'])).stdout) as { op: string; target?: string }[];
      expect(audit.filter((e) => e.op === 'refresh' && e.target === 'corp/erin')).toHaveLength(1);
      expect(audit.filter((e) => e.op === 'get_token' && e.target === 'corp/erin')).toHaveLength(200);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('answers REAUTH_REQUIRED after the grant is revoked, marks the account and notifies', async () => {
    expect((await addWithBrowser('frank')).code).toBe(0);
    await op.revokeAllGrants();
    await makeDue(sb, 'corp', 'frank');
    const r = await sb.token('corp', 'frank');
    expect(r.code).toBe(9);
    expect(r.stderr).toBe('sigil-token: corp/frank was signed out by the provider (invalid_grant) — run: sigil accounts authorize corp frank\n');
    const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { status: string }[];
    expect(accounts[0]!.status).toBe('needs_auth');
    expect((await sb.sigil(['accounts', 'list'])).stdout).toContain('needs auth');
    await eventually(() => existsSync(join(sb.home, 'notified.txt')));
    expect(readFileSync(join(sb.home, 'notified.txt'), 'utf8')).toBe('corp/frank needs_auth\n');
    // Signing in again heals it.
    const again = spawnSigil(sb, ['accounts', 'authorize', 'corp', 'frank', '--browser', '--no-open']);
    const [, url] = await again.waitFor(/\n {2}(http:\/\/\S+)\n/);
    await loginAndConsent(browser.context, url!, { login: 'frank' });
    expect((await again.done).code).toBe(0);
    expect((await sb.token('corp', 'frank')).code).toBe(0);
  });

  it('reports a denied consent clearly', async () => {
    const r = await addWithBrowser('grace', 'deny');
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('sigil: authorization for corp/grace was denied at the provider (access_denied)');
    expect((await sb.sigil(['accounts', 'list', '--json'])).stdout).toBe('[]\n');
  });

  it('cancels a device flow promptly', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const flow = await client.request<{ flow_id: string; interval: number }>('start_flow', { service: 'corp', account: 'henry', kind: 'device' });
      const waiting = client.request('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 0 });
      const t0 = Date.now();
      await client.request('cancel_flow', { flow_id: flow.flow_id });
      await expect(waiting).rejects.toMatchObject({ code: 'FLOW_TIMEOUT', message: 'the sign-in for corp/henry was cancelled' });
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      client.close();
    }
  });

  it('revokes the refresh token at the provider when an account is removed', async () => {
    expect((await addWithBrowser('ivan')).code).toBe(0);
    const revocations = op.counts.revocations;
    expect((await sb.sigil(['accounts', 'remove', 'corp', 'ivan'])).code).toBe(0);
    expect(op.counts.revocations).toBe(revocations + 1);
    expect((await sb.token('corp', 'ivan')).code).toBe(7);
  });
});

describe("the agent's callback server under abuse", () => {
  let op: OidcServer;
  let sb: Sandbox;
  beforeAll(async () => {
    op = await startOidcServer();
  });
  afterAll(async () => {
    await op?.close();
  });
  beforeEach(async () => {
    sb = new Sandbox();
    writeConfig(sb, `[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\nscopes = ["openid"]\n`);
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterEach(() => sb.cleanup());

  it('answers junk, a wrong state, a missing code and huge requests, and the flow stays cancellable', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const flow = await client.request<{ flow_id: string; authorization_url: string }>('start_flow', { service: 'corp', account: 'x', kind: 'auth_code' });
      const redirect = new URL(new URL(flow.authorization_url).searchParams.get('redirect_uri')!);
      expect(redirect.hostname).toBe('127.0.0.1');
      const waiting = client.request('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 0 });
      waiting.catch(() => {});
      expect((await fetch(new URL('/etc/passwd', redirect))).status).toBe(404);
      expect((await fetch(`${redirect.href}?code=stolen&state=forged`)).status).toBe(400);
      const state = new URL(flow.authorization_url).searchParams.get('state')!;
      expect((await fetch(`${redirect.href}?state=${state}`)).status).toBe(400);
      const huge = await fetch(`${redirect.href}?junk=${'x'.repeat(20_000)}`).then((r) => r.status, () => 'closed');
      expect([431, 'closed']).toContain(huge);
      // The agent is fine and the flow is still pending, then cancellable.
      expect((await client.request<{ locked: boolean }>('status')).locked).toBe(false);
      await client.request('cancel_flow', { flow_id: flow.flow_id });
      await expect(waiting).rejects.toMatchObject({ code: 'FLOW_TIMEOUT' });
      await expect(fetch(redirect.href)).rejects.toThrow(); // the one-shot server is gone
    } finally {
      client.close();
    }
  });

  it('rejects a replayed code', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    const browser = await launchBrowser();
    try {
      const flow = await client.request<{ flow_id: string; authorization_url: string }>('start_flow', { service: 'corp', account: 'y', kind: 'auth_code' });
      const landed = await loginAndConsent(browser.context, flow.authorization_url, { login: 'y' });
      // Where the browser ended, so a sign-in that went wrong fails here and says so.
      expect(new URL(landed).searchParams.has('code'), landed).toBe(true);
      await client.request('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 30_000 });
      // The same redirect again: the one-shot server is closed, nothing can consume the code twice.
      await expect(fetch(landed)).rejects.toThrow();
    } finally {
      client.close();
      await browser.close();
    }
  });
});

describe('refresh ahead (optional)', () => {
  const suite = oidcSuite({ provider: { accessTokenTtlS: 4 }, configHead: () => `[agent]\nrefresh_ahead = "10m"\n\n` });

  it('refreshes in the background before expiry, and stops when locked', async () => {
    const { op, sb } = suite;
    expect((await suite.signIn('zoe')).code).toBe(0);
    // A 4-second token: refreshed at half-life, without anyone asking for it.
    const start = op.counts.refresh;
    await eventually(() => op.counts.refresh >= start + 2, 10_000);
    await sb.sigil(['lock']);
    const atLock = op.counts.refresh;
    await new Promise((r) => setTimeout(r, 3000));
    expect(op.counts.refresh).toBe(atLock);
  });
});
