import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { startFakeSpotify, type FakeSpotify } from '../support/fake-spotify.js';
import { Sandbox } from '../support/sandbox.js';
import { followingBrowser, makeDue, spawnSigil, writeConfig } from './flow-helpers.js';

/**
 * Providers that cannot run here, faked with their documented quirks: GitHub answers OAuth
 * errors with HTTP 200 and says bad_refresh_token; Spotify may leave the refresh token out
 * of a refresh answer (keep the old one).
 */
describe('GitHub (fake with its quirks)', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeEach(async () => {
    gh = await startFakeGithub({ interval: 1, slowDownIncrement: 1 });
    sb = new Sandbox();
    const e = gh.endpoints;
    writeConfig(
      sb,
      `[providers.github]\nclient_id = "Iv1.sigiltest"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\ndevice_authorization_endpoint = "${e.device_authorization_endpoint}"\n`,
    );
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterEach(async () => {
    sb.cleanup();
    await gh.close();
  });

  async function addWithDevice(account: string): Promise<{ code: number | null; stderr: string }> {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'github', account, '--device']);
    const [, code] = await cmd.waitFor(/\n {4}([A-Z]{4}-[A-Z]{4})\n/);
    // Let the agent poll into a few "authorization_pending" answers (HTTP 200 from GitHub).
    await new Promise((r) => setTimeout(r, 1500));
    gh.approveDevice(code!);
    return cmd.done;
  }

  it('completes the device flow through HTTP-200 "authorization_pending" answers', async () => {
    const r = await addWithDevice('work');
    expect(r.stderr).toContain('Authorized github/work');
    expect(r.code).toBe(0);
    expect(gh.counts.devicePolls).toBeGreaterThanOrEqual(2);
    const tok = await sb.token('github', 'work');
    expect(tok.stdout).toMatch(/^ghu_\S+\n$/);
    // An 8-hour token is served from the cache.
    const refreshes = gh.counts.refresh;
    await sb.token('github', 'work');
    expect(gh.counts.refresh).toBe(refreshes);
  });

  it('keeps tokens that never expire without refreshing them', async () => {
    gh.setMode('non-expiring');
    expect((await addWithDevice('oauthapp')).code).toBe(0);
    const tok = await sb.token('github', 'oauthapp');
    expect(tok.stdout).toMatch(/^gho_\S+\n$/);
    const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { status: string; expires_at: number | null }[];
    expect(accounts[0]).toMatchObject({ status: 'valid', expires_at: null });
    expect(gh.counts.refresh).toBe(0);
  });

  it('refreshes an expiring user token and treats bad_refresh_token as signed out', async () => {
    gh.setAccessTokenTtl(60);
    expect((await addWithDevice('app')).code).toBe(0);
    await makeDue(sb, 'github', 'app');
    const first = await sb.token('github', 'app');
    expect(first.code).toBe(0);
    expect(gh.counts.refresh).toBe(1);
    gh.revokeAllTokens();
    await makeDue(sb, 'github', 'app');
    const r = await sb.token('github', 'app');
    expect(r.code).toBe(9);
    expect(r.stderr).toContain('(bad_refresh_token)');
  });

  it('reports a device code the person declined', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'github', 'no', '--device']);
    const [, code] = await cmd.waitFor(/\n {4}([A-Z]{4}-[A-Z]{4})\n/);
    gh.denyDevice(code!);
    const r = await cmd.done;
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('denied at the provider (access_denied)');
  });
});

describe('Spotify (fake with its quirks)', () => {
  let sp: FakeSpotify;
  let sb: Sandbox;
  beforeEach(async () => {
    sp = await startFakeSpotify({ accessTokenTtlS: 60 });
    sb = new Sandbox();
    const e = sp.endpoints;
    writeConfig(sb, `[providers.spotify]\nclient_id = "spotify-test"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\nscopes = ["user-read-private", "playlist-read-private"]\n`);
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterEach(async () => {
    sb.cleanup();
    await sp.close();
  });

  it('signs in with PKCE through $BROWSER and keeps the old refresh token when a refresh omits it', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'spotify', 'personal', '--browser'], { BROWSER: followingBrowser(sb) });
    const r = await cmd.done;
    expect(r.stderr).toContain('Opened your browser to sign in to spotify');
    expect(r.stderr).toContain('Authorized spotify/personal with scopes user-read-private playlist-read-private');
    expect(r.code).toBe(0);
    expect(sp.counts.authorizationCode).toBe(1);

    sp.setRefreshRotation('omit');
    for (let i = 1; i <= 3; i++) {
      await makeDue(sb, 'spotify', 'personal');
      const t = await sb.token('spotify', 'personal');
      expect(t.stderr).toBe('');
      expect(t.code).toBe(0);
      expect(sp.counts.refresh).toBe(i);
    }
    sp.setRefreshRotation('rotate');
    for (let i = 0; i < 2; i++) {
      await makeDue(sb, 'spotify', 'personal');
      expect((await sb.token('spotify', 'personal')).code).toBe(0);
    }
    expect(sp.counts.refresh).toBe(5);
  });
});

describe('a provider that is down', () => {
  it('answers PROVIDER_ERROR, keeps the tokens, and refreshes once it is back', async () => {
    const sp = await startFakeSpotify({ accessTokenTtlS: 2 });
    const sb = new Sandbox();
    try {
      const e = sp.endpoints;
      writeConfig(sb, `[providers.spotify]\nclient_id = "spotify-test"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\n`);
      await sb.startAgent();
      await sb.initAndUnlock();
      const add = await spawnSigil(sb, ['accounts', 'add', 'spotify', 'me', '--browser'], { BROWSER: followingBrowser(sb) }).done;
      expect(add.code).toBe(0);
      await new Promise((r) => setTimeout(r, 2100)); // the 2-second token has expired
      sp.setOutage(503);
      const down = await sb.token('spotify', 'me');
      expect(down.code).toBe(10);
      expect(down.stderr).toMatch(/^sigil-token: refreshing spotify\/me failed: .*503/);
      const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { status: string }[];
      expect(accounts[0]!.status).not.toBe('needs_auth');
      sp.setOutage(null);
      const back = await sb.token('spotify', 'me');
      expect(back.stderr).toBe('');
      expect(back.code).toBe(0);
      expect(sp.counts.refresh).toBe(1); // the outage answers were not refreshes: the old refresh token was kept and worked
    } finally {
      sb.cleanup();
      await sp.close();
    }
  });
});

describe('a provider that needs a client secret', () => {
  it('takes it from the vault, never from config.toml', async () => {
    const gh = await startFakeGithub({ interval: 1, clientSecret: 'client-secret-value-123', accessTokenTtlS: 60 });
    const sb = new Sandbox();
    try {
      const e = gh.endpoints;
      writeConfig(sb, `[providers.github]\nclient_id = "Iv1.sigiltest"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\ndevice_authorization_endpoint = "${e.device_authorization_endpoint}"\n`);
      await sb.startAgent();
      await sb.initAndUnlock();
      expect((await sb.sigil(['providers', 'secret', 'nope', '--stdin'], { input: 'x' })).code).toBe(7);
      expect((await sb.sigil(['providers', 'secret', 'github', '--stdin'], { input: 'client-secret-value-123' })).code).toBe(0);
      const cmd = spawnSigil(sb, ['accounts', 'add', 'github', 'work', '--device']);
      const [, code] = await cmd.waitFor(/\n {4}([A-Z]{4}-[A-Z]{4})\n/);
      gh.approveDevice(code!);
      expect((await cmd.done).code).toBe(0);
      // The fake refuses refreshes without the secret.
      await makeDue(sb, 'github', 'work');
      const t = await sb.token('github', 'work');
      expect(t.stderr).toBe('');
      expect(gh.counts.refresh).toBe(1);
      const list = JSON.parse((await sb.sigil(['providers', 'list', '--json'])).stdout) as { name: string; configured: boolean }[];
      expect(list.find((p) => p.name === 'github')).toMatchObject({ configured: true });
      expect(list.find((p) => p.name === 'spotify')).toMatchObject({ configured: false });
    } finally {
      sb.cleanup();
      await gh.close();
    }
  });
});
