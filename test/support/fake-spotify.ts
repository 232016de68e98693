import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-http.js';
import { basicAuth, readParams, s256 } from './fake-github.js';

/**
 * A fake of Spotify's accounts service on 127.0.0.1 and an ephemeral port, answering as
 * Spotify documents ("Authorization Code with PKCE Flow", "Refreshing tokens"):
 *
 * - `GET /authorize?client_id&response_type=code&redirect_uri&code_challenge_method=S256&
 *   code_challenge&state&scope` → redirects at once with `code` and `state` (or
 *   `error=access_denied` and `state` after `setAuthorizeDecision('deny')`). Bad client or
 *   redirect_uri: an HTTP 400 page, no redirect. Redirect URIs must be loopback IP literals
 *   (`http://127.0.0.1:PORT/…` or `[::1]`): Spotify refuses `localhost`.
 * - `POST /api/token` (form body, JSON answers):
 *   `authorization_code` (PKCE verified; without PKCE, client_secret by Basic auth) →
 *   `{access_token, token_type: "Bearer", scope, expires_in: 3600, refresh_token}`;
 *   `refresh_token` → a new access token and — per `setRefreshRotation` — a new refresh_token
 *   (`rotate`, the default: the old one dies) or no `refresh_token` field at all (`omit`: keep
 *   the old one, which stays valid). Errors are HTTP 400 `{error, error_description}`, e.g.
 *   `{"error":"invalid_grant","error_description":"Invalid refresh token"}`.
 * - `GET /v1/me` (the Web API, same server) → `{id, display_name}` for a valid token, else
 *   401 `{"error":{"status":401,"message":"Invalid access token"}}`.
 */
export type SpotifyRotation = 'rotate' | 'omit';

export interface FakeSpotifyOptions {
  /** When set, only this client_id is accepted. */
  clientId?: string;
  /** Enables the non-PKCE authorization code flow and Basic-authenticated refreshes. */
  clientSecret?: string;
  /** `expires_in` of access tokens (Spotify: 3600). */
  accessTokenTtlS?: number;
  /** Default `rotate`. */
  rotation?: SpotifyRotation;
  /** Spotify user id (default `spotifyuser`). */
  userId?: string;
}

export interface FakeSpotifyCounts {
  /** GET /authorize */
  authorizeRequests: number;
  /** Token requests with grant_type=authorization_code. */
  authorizationCode: number;
  /** Token requests with grant_type=refresh_token. */
  refresh: number;
  /** Every POST /api/token. */
  tokenRequests: number;
}

export interface FakeSpotify {
  /** `http://127.0.0.1:<port>` (stands for https://accounts.spotify.com and https://api.spotify.com). */
  baseUrl: string;
  endpoints: { authorization_endpoint: string; token_endpoint: string; me_endpoint: string };
  counts: FakeSpotifyCounts;
  setAuthorizeDecision(d: 'approve' | 'deny'): void;
  setRefreshRotation(r: SpotifyRotation): void;
  /** The token endpoint answers this HTTP status (e.g. 503) until set back to null. */
  setOutage(status: number | null): void;
  setAccessTokenTtl(s: number): void;
  /** Every access and refresh token issued so far becomes invalid. */
  revokeAllTokens(): void;
  close(): Promise<void>;
}

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string | undefined;
  scope: string;
  expiresAt: number;
}

const tok = (prefix: string, n: number) => prefix + randomBytes(n).toString('base64url');

function isLoopbackIp(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === '[::1]');
  } catch {
    return false;
  }
}

export async function startFakeSpotify(opts: FakeSpotifyOptions = {}): Promise<FakeSpotify> {
  let rotation: SpotifyRotation = opts.rotation ?? 'rotate';
  let accessTtl = opts.accessTokenTtlS ?? 3600;
  let authorizeDecision: 'approve' | 'deny' = 'approve';
  const userId = opts.userId ?? 'spotifyuser';
  const counts: FakeSpotifyCounts = { authorizeRequests: 0, authorizationCode: 0, refresh: 0, tokenRequests: 0 };
  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, number>(); // → expiresAt
  const refreshTokens = new Map<string, { clientId: string; scope: string }>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, error: string, description: string, status = 400) =>
    json(res, status, { error, error_description: description });
  const clientOk = (id: string | undefined) => !!id && (opts.clientId === undefined || id === opts.clientId);

  const issue = (clientId: string, scope: string, withRefresh: boolean) => {
    const access_token = tok('BQ', 96);
    accessTokens.set(access_token, Date.now() + accessTtl * 1000);
    const body: Record<string, string | number> = { access_token, token_type: 'Bearer', scope, expires_in: accessTtl };
    if (withRefresh) {
      const refresh_token = tok('AQ', 96);
      refreshTokens.set(refresh_token, { clientId, scope });
      body.refresh_token = refresh_token;
    }
    return body;
  };

  let outage: number | null = null;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;

    if (req.method === 'GET' && path === '/authorize') {
      counts.authorizeRequests++;
      const q = Object.fromEntries(url.searchParams);
      const page400 = (msg: string) => {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!DOCTYPE html><html><body><h1>${msg}</h1></body></html>`);
      };
      if (!clientOk(q.client_id)) return page400('INVALID_CLIENT: Invalid client');
      if (!q.redirect_uri || !isLoopbackIp(q.redirect_uri)) return page400('INVALID_CLIENT: Invalid redirect URI');
      if (q.response_type !== 'code') return page400('unsupported_response_type: response_type must be code');
      if (q.code_challenge !== undefined && q.code_challenge_method !== 'S256') return page400('code_challenge_method must be S256');
      if (q.code_challenge === undefined && opts.clientSecret === undefined) return page400('code_challenge is required');
      const target = new URL(q.redirect_uri);
      if (authorizeDecision === 'deny') {
        target.searchParams.set('error', 'access_denied');
      } else {
        const code = tok('AQ', 64);
        codes.set(code, {
          clientId: q.client_id!,
          redirectUri: q.redirect_uri,
          challenge: q.code_challenge,
          scope: (q.scope ?? '').split(/\s+/).filter(Boolean).join(' '),
          expiresAt: Date.now() + 600_000,
        });
        target.searchParams.set('code', code);
      }
      if (q.state !== undefined) target.searchParams.set('state', q.state);
      res.writeHead(302, { location: target.href });
      return void res.end();
    }

    if (req.method === 'POST' && path === '/api/token') {
      counts.tokenRequests++;
      if (outage !== null) {
        // An outage as Spotify's edge answers it: an HTML error page, no OAuth error body.
        res.writeHead(outage, { 'content-type': 'text/html' });
        return void res.end('<html><body>Service Unavailable</body></html>');
      }
      const p = await readParams(req);
      const basic = basicAuth(req);
      const clientId = p.client_id ?? basic?.id;
      if (basic && opts.clientSecret !== undefined && basic.secret !== opts.clientSecret) {
        return oauthError(res, 'invalid_client', 'Invalid client secret');
      }
      if (!clientOk(clientId)) return oauthError(res, 'invalid_client', 'Invalid client');

      if (p.grant_type === 'authorization_code') {
        counts.authorizationCode++;
        const c = p.code ? codes.get(p.code) : undefined;
        if (p.code) codes.delete(p.code);
        if (!c || c.clientId !== clientId || Date.now() >= c.expiresAt) return oauthError(res, 'invalid_grant', 'Invalid authorization code');
        if (p.redirect_uri !== c.redirectUri) return oauthError(res, 'invalid_grant', 'Invalid redirect URI');
        if (c.challenge !== undefined) {
          if (!p.code_verifier || s256(p.code_verifier) !== c.challenge) return oauthError(res, 'invalid_grant', 'code_verifier was incorrect');
        } else if (!basic) {
          return oauthError(res, 'invalid_client', 'Invalid client');
        }
        return json(res, 200, issue(c.clientId, c.scope, true));
      }

      if (p.grant_type === 'refresh_token') {
        counts.refresh++;
        const r = p.refresh_token ? refreshTokens.get(p.refresh_token) : undefined;
        if (!r || r.clientId !== clientId) return oauthError(res, 'invalid_grant', 'Invalid refresh token');
        if (rotation === 'rotate') refreshTokens.delete(p.refresh_token!);
        return json(res, 200, issue(r.clientId, r.scope, rotation === 'rotate'));
      }

      if (!p.grant_type) return oauthError(res, 'unsupported_grant_type', 'grant_type parameter is missing');
      return oauthError(res, 'unsupported_grant_type', `grant_type must be client_credentials, authorization_code or refresh_token`);
    }

    if (req.method === 'GET' && path === '/v1/me') {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      const exp = m ? accessTokens.get(m[1]!) : undefined;
      if (exp === undefined) return json(res, 401, { error: { status: 401, message: 'Invalid access token' } });
      if (Date.now() >= exp) return json(res, 401, { error: { status: 401, message: 'The access token expired' } });
      return json(res, 200, { id: userId, display_name: userId, type: 'user' });
    }

    json(res, 404, { error: { status: 404, message: 'Service not found' } });
  }

  const http = await listenLoopback(handle);
  const baseUrl = http.baseUrl;
  return {
    baseUrl,
    endpoints: {
      authorization_endpoint: `${baseUrl}/authorize`,
      token_endpoint: `${baseUrl}/api/token`,
      me_endpoint: `${baseUrl}/v1/me`,
    },
    counts,
    setAuthorizeDecision(d) {
      authorizeDecision = d;
    },
    setRefreshRotation(r) {
      rotation = r;
    },
    setOutage(status) {
      outage = status;
    },
    setAccessTokenTtl(s) {
      accessTtl = s;
    },
    revokeAllTokens() {
      accessTokens.clear();
      refreshTokens.clear();
    },
    close: () => http.close(),
  };
}
