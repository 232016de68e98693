import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountMeta } from '../../../src/agent/credentials/account-registry.js';
import { accountStatus, refreshLeadS } from '../../../src/agent/credentials/token-service.js';
import { MAX_EXPIRES_IN_S } from '../../../src/protocol/token-rules.js';
import { listenLoopback, type LoopbackHttp } from '../../support/loopback-http.js';
import { eventually, TEST_PASSPHRASE } from '../../support/sandbox.js';
import { makeDue, oidcSuite } from '../../oauth/flow-helpers.js';
import { agentSuite } from '../helpers.js';

const meta = (expires_at: number, issued_at?: number): AccountMeta => ({
  service: 'corp',
  account: 'a',
  kind: 'oauth',
  created: '2026-01-01T00:00:00.000Z',
  expires_at,
  ...(issued_at === undefined ? {} : { issued_at }),
});

describe('when a token is due (refreshLeadS)', () => {
  it('is 5 minutes before expiry, or half the issued lifetime when that is shorter', () => {
    const t = 1_800_000_000;
    expect(refreshLeadS(meta(t + 3600, t))).toBe(300);
    expect(refreshLeadS(meta(t + 300, t))).toBe(150);
    expect(refreshLeadS(meta(t + 120, t))).toBe(60);
    expect(refreshLeadS(meta(t + 60, t))).toBe(30);
    expect(refreshLeadS(meta(t, t))).toBe(0);
    // refresh_ahead's window caps it instead of the 5 minutes.
    expect(refreshLeadS(meta(t + 3600, t), 600)).toBe(600);
    expect(refreshLeadS(meta(t + 300, t), 600)).toBe(150);
  });

  it('falls back to the 5 minutes for entries stored before the issue time was kept', () => {
    const t = 1_800_000_000;
    expect(refreshLeadS(meta(t + 60))).toBe(300);
  });

  it('is what "expiring" means in accounts list', () => {
    const t = 1_800_000_000;
    expect(accountStatus(meta(t + 300, t), t)).toBe('valid'); // a fresh 300 s token
    expect(accountStatus(meta(t + 300, t), t + 150)).toBe('expiring');
    expect(accountStatus(meta(t + 60, t), t + 29)).toBe('valid');
    expect(accountStatus(meta(t + 60, t), t + 30)).toBe('expiring');
  });
});

describe('short-lived access tokens are not refreshed on every call (real OpenID provider)', () => {
  const suite = oidcSuite({ provider: { accessTokenTtlS: 300 } });
  const addWithBrowser = async (account: string) => expect((await suite.signIn(account)).code).toBe(0);
  const parallelTokens = (account: string, n: number) => Promise.all(Array.from({ length: n }, () => suite.sb.token('corp', account)));

  it.each([300, 120, 60])('%i s tokens: 5 back-to-back and 20 parallel sigil-token calls make at most one refresh each', async (ttl) => {
    suite.op.setAccessTokenTtl(ttl);
    const account = `t${ttl}`;
    await addWithBrowser(account);

    const before = suite.op.counts.refresh;
    for (let i = 0; i < 5; i++) {
      const r = await suite.sb.token('corp', account);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(suite.op.counts.refresh - before).toBeLessThanOrEqual(1);

    const mid = suite.op.counts.refresh;
    const parallel = await parallelTokens(account, 20);
    expect(parallel.map((r) => r.code)).toEqual(Array(20).fill(0));
    expect(suite.op.counts.refresh - mid).toBeLessThanOrEqual(1);

    const accounts = JSON.parse((await suite.sb.sigil(['accounts', 'list', '--json'])).stdout) as { status: string }[];
    expect(accounts[0]!.status).toBe('valid');
  });

  it('20 parallel calls on a due token share one refresh and get the same token', async () => {
    suite.op.setAccessTokenTtl(300);
    await addWithBrowser('due');
    await makeDue(suite.sb, 'corp', 'due');
    const before = suite.op.counts.refresh;
    const parallel = await parallelTokens('due', 20);
    expect(parallel.map((r) => r.code)).toEqual(Array(20).fill(0));
    expect(new Set(parallel.map((r) => r.stdout)).size).toBe(1);
    expect(suite.op.counts.refresh - before).toBe(1);
  });

  it('an account stored before the issue time was kept refreshes once, then keeps its token', async () => {
    suite.op.setAccessTokenTtl(60);
    await addWithBrowser('old');
    const accountsToml = join(suite.sb.home, 'config/sigilforge/accounts.toml');
    expect(readFileSync(accountsToml, 'utf8')).toMatch(/^issued_at = \d+$/m);

    // As an older agent wrote it: no issued_at.
    const status = JSON.parse((await suite.sb.sigil(['status', '--json'])).stdout) as { pid: number };
    process.kill(status.pid, 'SIGTERM');
    await eventually(() => !existsSync(suite.sb.socket));
    writeFileSync(accountsToml, readFileSync(accountsToml, 'utf8').replace(/^issued_at = \d+\n/m, ''));
    await suite.sb.startAgent();
    expect((await suite.sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);

    const before = suite.op.counts.refresh;
    const first = await suite.sb.token('corp', 'old'); // the 5-minute fallback: a 60 s token is due
    expect(first.code).toBe(0);
    expect(suite.op.counts.refresh).toBe(before + 1);
    expect(readFileSync(accountsToml, 'utf8')).toMatch(/^issued_at = \d+$/m);
    const second = await suite.sb.token('corp', 'old');
    expect(second.stdout).toBe(first.stdout);
    expect(suite.op.counts.refresh).toBe(before + 1);
  });
});

/** A token endpoint answering refreshes with whatever the test puts in `answer`. */
async function fakeTokenEndpoint(answer: Record<string, unknown>): Promise<LoopbackHttp & { refreshes: () => number }> {
  let refreshes = 0;
  const readBody = async (req: IncomingMessage) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    return new URLSearchParams(body);
  };
  const http = await listenLoopback(async (req, res) => {
    const form = await readBody(req);
    if (req.url !== '/token' || form.get('grant_type') !== 'refresh_token') throw new Error('not a refresh');
    refreshes++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ access_token: `access-${refreshes}`, refresh_token: `refresh-${refreshes}`, ...answer }));
  });
  return Object.assign(http, { refreshes: () => refreshes });
}

describe('what a provider answers is checked before it is stored', () => {
  const answer: Record<string, unknown> = {};
  let fake: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  beforeAll(async () => {
    fake = await fakeTokenEndpoint(answer);
  });
  afterAll(() => fake?.close());
  const agent = agentSuite(() => `[providers.fake]\nauthorization_endpoint = "${fake.baseUrl}/authorize"\ntoken_endpoint = "${fake.baseUrl}/token"\nclient_id = "x"\n`);
  beforeAll(() => agent.client.request('set_token', { service: 'fake', account: 'me', access_token: 'imported', refresh_token: 'refresh-0', expires_in: 0 }));

  it.each([
    ['a header line', 'Bearer\r\nX-Evil: 1'],
    ['a terminal title', '\x1b]0;pwned\x07'],
  ])('refuses a token_type carrying %s: token get --format header prints nothing of it', async (_what, tokenType) => {
    answer.token_type = tokenType;
    answer.expires_in = 3600;
    const before = fake.refreshes();
    const r = await agent.sb.sigil(['token', 'get', '--format', 'header', 'fake', 'me']);
    expect(fake.refreshes()).toBe(before + 1);
    expect(r.code).toBe(10); // PROVIDER_ERROR
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('refreshing fake/me failed');
    expect(r.stderr).not.toContain('X-Evil');
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    const accounts = JSON.parse((await agent.sb.sigil(['accounts', 'list', '--json'])).stdout) as { token_type: string }[];
    expect(accounts[0]!.token_type).toBe('Bearer');
  });

  it('takes "bearer" as Bearer, and bounds an expires_in of 1e308 to ten years', async () => {
    answer.token_type = 'bearer';
    answer.expires_in = 1e308;
    const r = await agent.sb.sigil(['token', 'get', '--format', 'header', 'fake', 'me']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Authorization: Bearer access-\d+\n$/);
    const accounts = JSON.parse((await agent.sb.sigil(['accounts', 'list', '--json'])).stdout) as { expires_at: number }[];
    const nowS = Date.now() / 1000;
    expect(accounts[0]!.expires_at).toBeGreaterThan(nowS + MAX_EXPIRES_IN_S - 60);
    expect(accounts[0]!.expires_at).toBeLessThanOrEqual(nowS + MAX_EXPIRES_IN_S);
    expect((await agent.sb.sigil(['accounts', 'list'])).stdout).not.toContain('e+');
  });
});
