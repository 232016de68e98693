import { existsSync, readFileSync, statSync, symlinkSync, renameSync, lstatSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { SigilError } from '../../src/protocol/errors.js';
import type { FlowStart, ProviderInfo } from '../../src/protocol/results.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import { Sandbox } from '../support/sandbox.js';
import { writeConfig } from './flow-helpers.js';

/** A person's config.toml: comments, odd spacing, no newline at the end. */
const ORIGINAL = `# my sigilforge settings
[agent]
lock_timeout   = "15m"   # keep it short

[providers.legacy]  # plain OAuth 2.0
authorization_endpoint = "https://legacy.example/oauth/authorize"
token_endpoint = "https://legacy.example/oauth/token"
client_id = "abc"
# the end, no newline`;

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function failure(p: Promise<unknown>): Promise<SigilError> {
  try {
    await p;
  } catch (err) {
    return err as SigilError;
  }
  throw new Error('expected the request to fail');
}

describe('add_provider (real agent, real OpenID provider)', () => {
  let op: OidcServer;
  let sb: Sandbox;
  let client: AgentClient;
  let configPath: string;
  const config = () => readFileSync(configPath, 'utf8');

  beforeAll(async () => {
    op = await startOidcServer({ deviceInterval: 1 });
    sb = new Sandbox();
    writeConfig(sb, ORIGINAL);
    configPath = join(sb.home, 'config/sigilforge/config.toml');
    await sb.startAgent();
    await sb.initAndUnlock();
    client = await AgentClient.connect({ socketPath: sb.socket });
  });
  afterAll(async () => {
    client?.close();
    sb?.cleanup();
    await op?.close();
  });

  it('checks the issuer, appends [providers.NAME] keeping the file byte for byte, and the provider works at once', async () => {
    const r = await client.request('add_provider', { name: 'corp', issuer: op.issuer, client_id: op.clientId, scopes: ['openid', 'offline_access'] });
    expect(r).toEqual({ name: 'corp' });

    const text = config();
    expect(text.startsWith(ORIGINAL)).toBe(true);
    const doc = parse(text) as { agent: Record<string, unknown>; providers: Record<string, Record<string, unknown>> };
    expect(doc.agent).toEqual({ lock_timeout: '15m' });
    expect(doc.providers.legacy).toMatchObject({ client_id: 'abc' });
    expect(doc.providers.corp).toEqual({ issuer: op.issuer, client_id: op.clientId, scopes: ['openid', 'offline_access'] });
    expect(statSync(configPath).mode & 0o777).toBe(0o600);

    const { providers } = await client.request<{ providers: ProviderInfo[] }>('list_providers');
    expect(providers.find((p) => p.name === 'corp')).toEqual({
      name: 'corp',
      configured: true,
      builtin: false,
      client_secret_set: false,
      scopes: ['openid', 'offline_access'],
      discovery: true,
      discovered: true, // add_provider's check discovered it
      device: true,
    });

    // No restart: both flows start against the provider just added.
    const device = await client.request<FlowStart>('start_flow', { service: 'corp', account: 'alice', kind: 'device' });
    expect(device.kind).toBe('device');
    expect(device.user_code).toBeTruthy();
    expect(device.verification_uri).toContain(op.issuer);
    expect(await client.request('cancel_flow', { flow_id: device.flow_id })).toEqual({ cancelled: true });

    const browser = await client.request<FlowStart>('start_flow', { service: 'corp', account: 'alice', kind: 'auth_code' });
    expect(browser.authorization_url).toMatch(new RegExp(`^${op.issuer}/.*client_id=${op.clientId}.*`));
    expect(browser.authorization_url).toContain('code_challenge_method=S256');
    expect(await client.request('cancel_flow', { flow_id: browser.flow_id })).toEqual({ cancelled: true });

    // audit_tail flushes the agent's buffered lines first.
    const { entries } = await client.request<{ entries: { op: string; target?: string; result: string }[] }>('audit_tail', { limit: 50 });
    expect(entries).toContainEqual(expect.objectContaining({ op: 'add_provider', target: 'corp', result: 'ok' }));
  });

  it('refuses a name already in config.toml or a built-in preset (ALREADY_EXISTS), leaving the file alone', async () => {
    const before = config();
    for (const name of ['corp', 'legacy', 'github', 'google']) {
      const e = await failure(client.request('add_provider', { name, issuer: op.issuer, client_id: op.clientId }));
      expect(e.code, name).toBe(ErrorCode.ALREADY_EXISTS);
      expect(e.message).toContain(name);
      expect(e.details, name).toEqual({ field: 'name' });
    }
    expect(config()).toBe(before);
  });

  it('refuses a section added to config.toml by hand since the agent started', async () => {
    const before = config();
    writeConfig(sb, `${before}\n[providers.byhand]\nissuer = "${op.issuer}"\nclient_id = "x"\n`);
    const edited = config();
    const e = await failure(client.request('add_provider', { name: 'byhand', issuer: op.issuer, client_id: op.clientId }));
    expect(e.code).toBe(ErrorCode.ALREADY_EXISTS);
    expect(e.details).toEqual({ field: 'name' });
    expect(config()).toBe(edited);
  });

  it('validates the name and the table, naming the key in the message and in the error field', async () => {
    const before = config();
    const badName = await failure(client.request('add_provider', { name: 'Corp Two', issuer: op.issuer, client_id: op.clientId }));
    expect(badName.code).toBe(ErrorCode.BAD_REQUEST);
    expect(badName.message).toContain('invalid service name');
    expect(badName.details).toEqual({ field: 'name' });
    expect((await failure(client.request('add_provider', { issuer: op.issuer, client_id: op.clientId }))).details).toEqual({ field: 'name' });

    const http = await failure(client.request('add_provider', { name: 'remote', issuer: 'http://login.example.com', client_id: 'x' }));
    expect(http.code).toBe(ErrorCode.BAD_REQUEST);
    expect(http.message).toContain('providers.remote.issuer');
    expect(http.message).toContain('https');
    expect(http.details).toEqual({ field: 'issuer' });

    const token = await failure(client.request('add_provider', { name: 'remote', authorization_endpoint: 'https://a.example/auth', token_endpoint: 'http://a.example/token', client_id: 'x' }));
    expect(token.code).toBe(ErrorCode.BAD_REQUEST);
    expect(token.message).toContain('providers.remote.token_endpoint');
    expect(token.details).toEqual({ field: 'token_endpoint' });

    const noClient = await failure(client.request('add_provider', { name: 'remote', issuer: op.issuer, client_id: '' }));
    expect(noClient.code).toBe(ErrorCode.BAD_REQUEST);
    expect(noClient.message).toContain('client_id');
    expect(noClient.details).toEqual({ field: 'client_id' });
    expect((await failure(client.request('add_provider', { name: 'remote', issuer: op.issuer }))).details).toEqual({ field: 'client_id' });

    const scopes = await failure(client.request('add_provider', { name: 'remote', issuer: op.issuer, client_id: 'x', scopes: 'openid' }));
    expect(scopes.code).toBe(ErrorCode.BAD_REQUEST);
    expect(scopes.message).toContain('scopes');
    expect(scopes.details).toEqual({ field: 'scopes' });
    expect(config()).toBe(before);
  });

  it('answers PROVIDER_ERROR when discovery fails, and config.toml is unchanged', async () => {
    const before = config();
    const port = await closedPort();
    const e = await failure(client.request('add_provider', { name: 'down', issuer: `http://127.0.0.1:${port}`, client_id: 'x' }));
    expect(e.code).toBe(ErrorCode.PROVIDER_ERROR);
    expect(e.message).toContain(`discovery at http://127.0.0.1:${port} failed`);
    expect(e.details).toEqual({ field: 'issuer' });
    expect(config()).toBe(before);

    // Reachable, but not an OpenID issuer: the provider's own answer is in the message.
    const notFound = await failure(client.request('add_provider', { name: 'down', issuer: `${op.issuer}/nope`, client_id: 'x' }));
    expect(notFound.code).toBe(ErrorCode.PROVIDER_ERROR);
    expect(notFound.message).toMatch(/404|not found/i);
    expect(config()).toBe(before);
    const { providers } = await client.request<{ providers: ProviderInfo[] }>('list_providers');
    expect(providers.map((p) => p.name)).not.toContain('down');
  });

  it('is reachable from the CLI: sigil providers add', async () => {
    const r = await sb.sigil(['providers', 'add', 'viacli', '--issuer', op.issuer, '--client-id', op.clientId, '--scopes', 'openid,profile']);
    expect(r.stderr).toBe('Added [providers.viacli] to config.toml. Next: sigil accounts add viacli ACCOUNT\n');
    expect(r.code).toBe(0);
    expect(config()).toContain('[providers.viacli]');
    const bad = await sb.sigil(['providers', 'add', 'viacli2', '--issuer', 'http://example.com', '--client-id', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"providers.viacli2.issuer" must use https');
    expect((await sb.sigil(['providers', 'add', 'nothing'])).code).toBe(2); // --client-id is required
  });

  it('saves explicit endpoints without discovery', async () => {
    const r = await client.request('add_provider', {
      name: 'plain',
      authorization_endpoint: 'https://plain.example/authorize',
      token_endpoint: 'https://plain.example/token',
      client_id: 'a "quoted" id\\with\tcontrol',
    });
    expect(r).toEqual({ name: 'plain' });
    const doc = parse(config()) as { providers: Record<string, Record<string, unknown>> };
    expect(doc.providers.plain).toEqual({
      authorization_endpoint: 'https://plain.example/authorize',
      token_endpoint: 'https://plain.example/token',
      client_id: 'a "quoted" id\\with\tcontrol',
    });
  });

  it('serializes concurrent calls: one of two same-name adds wins, different names both land', async () => {
    const before = config();
    const same = await Promise.allSettled([
      client.request('add_provider', { name: 'twin', issuer: op.issuer, client_id: op.clientId }),
      client.request('add_provider', { name: 'twin', issuer: op.issuer, client_id: op.clientId }),
    ]);
    expect(same.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    const lost = same.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as SigilError).code).toBe(ErrorCode.ALREADY_EXISTS);

    const names = ['one', 'two', 'three', 'four'];
    await Promise.all(names.map((name) => client.request('add_provider', { name, issuer: op.issuer, client_id: op.clientId })));
    const text = config();
    expect(text.startsWith(before)).toBe(true);
    const doc = parse(text) as { providers: Record<string, unknown> };
    for (const name of ['twin', ...names]) expect(doc.providers[name], name).toEqual({ issuer: op.issuer, client_id: op.clientId });
  });
});

describe('add_provider without a config.toml', () => {
  let op: OidcServer;
  let sb: Sandbox;
  beforeAll(async () => {
    op = await startOidcServer();
    sb = new Sandbox();
    await sb.startAgent(); // locked: add_provider holds no secret and works anyway
  });
  afterAll(async () => {
    sb?.cleanup();
    await op?.close();
  });

  it('creates it (0600), and a symlinked config.toml stays a symlink', async () => {
    const path = join(sb.home, 'config/sigilforge/config.toml');
    expect(existsSync(path)).toBe(false);
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      expect(await client.request('add_provider', { name: 'corp', issuer: op.issuer, client_id: op.clientId, scopes: ['openid'] })).toEqual({ name: 'corp' });
      expect(readFileSync(path, 'utf8')).toBe(`[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\nscopes = ["openid"]\n`);
      expect(statSync(path).mode & 0o777).toBe(0o600);

      // A dotfiles setup: config.toml is a link to the real file elsewhere.
      const real = join(sb.home, 'dotfiles-config.toml');
      renameSync(path, real);
      symlinkSync(real, path);
      expect(await client.request('add_provider', { name: 'other', issuer: op.issuer, client_id: op.clientId })).toEqual({ name: 'other' });
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
      const doc = parse(readFileSync(real, 'utf8')) as { providers: Record<string, unknown> };
      expect(Object.keys(doc.providers)).toEqual(['corp', 'other']);
    } finally {
      client.close();
    }
  });
});
