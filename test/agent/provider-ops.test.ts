import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { FlowStart, ProviderInfo } from '../../src/protocol/results.js';
import { listenLoopback, type LoopbackHttp } from '../support/loopback-http.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import type { Sandbox } from '../support/sandbox.js';
import { agentSuite, auditUntil } from './helpers.js';
import { makeDue, oidcSuite } from '../oauth/flow-helpers.js';

async function providers(sb: Sandbox): Promise<ProviderInfo[]> {
  const r = await sb.sigil(['providers', 'list', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ProviderInfo[];
}

describe('a provider client secret can be removed (real OpenID provider, public client)', () => {
  const suite = oidcSuite();

  it('after --remove, refresh works again; providers list shows whether one is set', async () => {
    const { op, sb } = suite;
    expect((await suite.signIn('alice')).code).toBe(0);
    expect((await providers(sb)).find((p) => p.name === 'corp')).toMatchObject({ client_secret_set: false });

    // A secret given to a public client by mistake: the provider refuses every refresh.
    expect((await sb.sigil(['providers', 'secret', 'corp', '--stdin'], { input: 'not-needed' })).code).toBe(0);
    expect((await providers(sb)).find((p) => p.name === 'corp')).toMatchObject({ client_secret_set: true });
    expect((await sb.sigil(['providers', 'list'])).stdout).toMatch(/^corp +custom +\S+ +set +openid$/m);
    await makeDue(sb, 'corp', 'alice');
    const refused = await sb.token('corp', 'alice');
    expect(refused.code).toBe(10);
    expect(refused.stderr).toContain('invalid_client');

    const removed = await sb.sigil(['providers', 'secret', 'corp', '--remove']);
    expect(removed.stderr).toBe('Removed the client secret for corp from the vault.\n');
    expect(removed.code).toBe(0);
    expect((await providers(sb)).find((p) => p.name === 'corp')).toMatchObject({ client_secret_set: false });
    expect((await sb.sigil(['providers', 'list'])).stdout).toMatch(/^corp +custom +\S+ +none +openid$/m);
    const before = op.counts.refresh;
    const works = await sb.token('corp', 'alice');
    expect(works.stderr).toBe('');
    expect(works.code).toBe(0);
    expect(op.counts.refresh).toBe(before + 1);

    // Audited as a removal; a second one says there was nothing to remove.
    await auditUntil(sb, (entries) => entries.some((e) => e.op === 'set_client_secret' && e.target === 'corp (remove)' && e.result === 'ok'));
    expect((await sb.sigil(['providers', 'secret', 'corp', '--remove'])).stderr).toBe('No client secret for corp was stored.\n');
    // Locked: whether one is set cannot be seen.
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await providers(sb)).find((p) => p.name === 'corp')).toMatchObject({ client_secret_set: null });
    expect((await sb.sigil(['providers', 'list'])).stdout).toMatch(/^corp +custom +\S+ +\(locked\) +openid$/m);
  });
});

describe('discovery providers: what is known, and their default scopes', () => {
  let op: OidcServer;
  let wrongIssuer: LoopbackHttp;
  beforeAll(async () => {
    op = await startOidcServer();
    // Discovery metadata naming an issuer other than the one it is served for.
    wrongIssuer = await listenLoopback(async (req, res) => {
      if (req.url !== '/.well-known/openid-configuration') throw new Error('no such page');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: 'https://login.elsewhere.example/realms/x', authorization_endpoint: 'https://login.elsewhere.example/auth', token_endpoint: 'https://login.elsewhere.example/token' }));
    });
  });
  afterAll(async () => {
    await wrongIssuer?.close();
    await op?.close();
  });
  const agent = agentSuite(() => `[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\n`); // no scopes

  it('providers list says "not yet discovered" (device unknown) until the issuer was asked', async () => {
    expect((await providers(agent.sb)).find((p) => p.name === 'corp')).toEqual({
      name: 'corp',
      configured: true,
      builtin: false,
      client_secret_set: false,
      scopes: ['openid'],
      discovery: true,
      discovered: false,
      device: null,
    });
    expect((await agent.sb.sigil(['providers', 'list'])).stdout).toMatch(/^corp +custom +not yet discovered +none +openid$/m);
  });

  it('a discovery provider with no scopes asks for openid, and offline_access where the issuer offers it', async () => {
    const flow = await agent.client.request<FlowStart>('start_flow', { service: 'corp', account: 'bob', kind: 'auth_code' });
    expect(new URL(flow.authorization_url!).searchParams.get('scope')).toBe('openid offline_access');
    await agent.client.request('cancel_flow', { flow_id: flow.flow_id });
    // Discovered now: the list says what the issuer offers.
    expect((await providers(agent.sb)).find((p) => p.name === 'corp')).toMatchObject({ scopes: ['openid', 'offline_access'], discovered: true, device: true });
    expect((await agent.sb.sigil(['providers', 'list'])).stdout).toMatch(/^corp +custom +ready +none +openid offline_access$/m);
  });

  it('a discovered issuer that does not match names both issuers', async () => {
    const e = agent.client.request('add_provider', { name: 'elsewhere', issuer: wrongIssuer.baseUrl, client_id: 'x' });
    await expect(e).rejects.toMatchObject({
      code: ErrorCode.PROVIDER_ERROR,
      message: `discovery at ${wrongIssuer.baseUrl} failed: the issuer in its metadata is "https://login.elsewhere.example/realms/x", but the configured issuer is "${wrongIssuer.baseUrl}" (the two must be identical)`,
    });
  });
});
