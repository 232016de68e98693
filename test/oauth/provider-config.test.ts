import { describe, expect, it } from 'vitest';
import { providerFetch } from '../../src/oauth/provider-client.js';
import { isLoopbackUrl, resolveProvider, supportedFlows } from '../../src/oauth/provider-config.js';
import { PRESETS } from '../../src/oauth/provider-presets.js';

describe('providers', () => {
  it('fills a preset from config.toml with only client_id', () => {
    const p = resolveProvider('spotify', { spotify: { client_id: 'abc', scopes: ['playlist-read-private'] } });
    expect(p).toMatchObject({
      client_id: 'abc',
      authorization_endpoint: 'https://accounts.spotify.com/authorize',
      token_endpoint: 'https://accounts.spotify.com/api/token',
      scopes: ['playlist-read-private'],
    });
    expect(supportedFlows(p)).toEqual(['auth_code']);
    expect(resolveProvider('github', { github: { client_id: 'x' } }).quirks.errorsWithHttp200).toBe(true);
    expect(resolveProvider('google', { google: { client_id: 'x' } }).auth_params).toEqual({ access_type: 'offline', prompt: 'consent' });
  });

  it('has real https endpoints in every preset', () => {
    for (const [name, preset] of Object.entries(PRESETS)) {
      for (const url of [preset.issuer, preset.authorization_endpoint, preset.token_endpoint, preset.device_authorization_endpoint]) {
        if (url !== undefined) expect(url, name).toMatch(/^https:\/\//);
      }
    }
  });

  it('says what is missing, naming the config key', () => {
    expect(() => resolveProvider('spotify', {})).toThrow('[providers.spotify] needs client_id');
    expect(() => resolveProvider('corp', {})).toThrow('no provider "corp": add [providers.corp] to config.toml');
    expect(() => resolveProvider('corp', { corp: { client_id: 'x' } })).toThrow('needs issuer = "…" (discovery) or authorization_endpoint/token_endpoint');
    expect(() => resolveProvider('corp', { corp: { client_id: 'x', issuer: 'not a url' } })).toThrow('"providers.corp.issuer" is not a URL');
    expect(() => resolveProvider('corp', { corp: { client_id: 'x', scopes: 'openid' } })).toThrow('"providers.corp.scopes" must be a list of strings');
  });

  it('accepts plain http only on loopback', () => {
    expect(resolveProvider('corp', { corp: { client_id: 'x', issuer: 'http://127.0.0.1:4000' } }).issuer).toBe('http://127.0.0.1:4000');
    expect(resolveProvider('corp', { corp: { client_id: 'x', issuer: 'http://localhost:4000' } }).issuer).toBe('http://localhost:4000');
    expect(() => resolveProvider('corp', { corp: { client_id: 'x', issuer: 'http://login.corp.example' } })).toThrow('must use https');
    expect(() => resolveProvider('corp', { corp: { client_id: 'x', issuer: 'http://127.0.0.1.evil.example' } })).toThrow('must use https');
    expect(isLoopbackUrl(new URL('http://[::1]:8080/'))).toBe(true);
    expect(isLoopbackUrl(new URL('http://10.0.0.1/'))).toBe(false);
  });

  it('lets config point a preset at other endpoints (a test server, an enterprise host)', () => {
    const p = resolveProvider('github', { github: { client_id: 'x', token_endpoint: 'http://127.0.0.1:5000/login/oauth/access_token' } });
    expect(p.token_endpoint).toBe('http://127.0.0.1:5000/login/oauth/access_token');
    expect(p.authorization_endpoint).toBe('https://github.com/login/oauth/authorize');
  });

  it('takes the redirect port from the reddit preset or config.toml, and refuses one that is no port', () => {
    expect(resolveProvider('reddit', { reddit: { client_id: 'x' } })).toMatchObject({ redirect_port: 65010, auth_params: { duration: 'permanent' }, quirks: { basicAuth: true, errorsWithHttp200: true } });
    expect(resolveProvider('reddit', { reddit: { client_id: 'x', redirect_port: 8080 } }).redirect_port).toBe(8080);
    expect(resolveProvider('spotify', { spotify: { client_id: 'x' } }).redirect_port).toBeUndefined();
    for (const bad of [0, 65536, 80.5, '8080']) {
      expect(() => resolveProvider('reddit', { reddit: { client_id: 'x', redirect_port: bad } }), String(bad)).toThrow('"providers.reddit.redirect_port" must be a port number from 1 to 65535');
    }
  });

  it("rewrites GitHub's HTTP 200 error answers into 400s, and leaves real answers alone", async () => {
    const github = resolveProvider('github', { github: { client_id: 'x' } });
    const answer = (body: unknown) => async () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });
    const err = await providerFetch(github, answer({ error: 'authorization_pending', error_description: 'wait' }) as typeof fetch)('http://127.0.0.1/x', {} as never);
    expect(err.status).toBe(400);
    expect(await err.json()).toEqual({ error: 'authorization_pending', error_description: 'wait' });
    const ok = await providerFetch(github, answer({ access_token: 'gho_x' }) as typeof fetch)('http://127.0.0.1/x', {} as never);
    expect(ok.status).toBe(200);
    const spotify = resolveProvider('spotify', { spotify: { client_id: 'x' } });
    const untouched = await providerFetch(spotify, answer({ error: 'x' }) as typeof fetch)('http://127.0.0.1/x', {} as never);
    expect(untouched.status).toBe(200);
  });
});
