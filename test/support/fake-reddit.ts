import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-http.js';
import { basicAuth, readParams } from './fake-github.js';

/**
 * A fake of Reddit's OAuth2 endpoints on 127.0.0.1 and an ephemeral port, answering as
 * Reddit's wiki (reddit-archive/reddit/wiki/OAuth2) documents it and PRAW's prawcore reads it:
 *
 * - Every API request (all but the sign-in page, which a browser loads) needs a User-Agent
 *   of its own: none, or a library's default (`node`, `undici`, `oauth4webapi/…`,
 *   `python-requests/…`, `curl/…`), is answered 429 `{"message": "Too Many Requests", "error": 429}`.
 * - `GET /api/v1/authorize?client_id&response_type=code&state&redirect_uri&duration&scope` →
 *   redirects at once with `code` and `state`, or `error=access_denied` after
 *   `setAuthorizeDecision('deny')`, `error=invalid_request` for a `duration` that is not
 *   `permanent` or `temporary`. An unknown client or a redirect_uri other than the registered
 *   one (any loopback one when none is): an HTTP 400 page, no redirect. Scopes may be
 *   separated by spaces or commas. PKCE parameters are ignored, as Reddit ignores them.
 * - `POST /api/v1/access_token` (form body): the client only by HTTP Basic auth, `client_id:`
 *   with an empty password for an installed app (no `clientSecret`); else 401
 *   `{"message": "Unauthorized", "error": 401}`. `authorization_code` → `{access_token,
 *   token_type: "bearer", expires_in: 3600, scope}` plus `refresh_token` only for
 *   `duration=permanent`; `refresh_token` → the same without a refresh_token (the old one
 *   stays valid: Reddit does not rotate). Errors come with HTTP 200: `{"error":
 *   "invalid_grant"}`, `{"error": "unsupported_grant_type"}`, `{"error": "NO_TEXT"}`.
 * - `POST /api/v1/revoke_token` (`token`, `token_type_hint`; Basic auth) → 204, whatever the
 *   token; a refresh token's access tokens die with it.
 * - `GET /api/v1/me` (oauth.reddit.com; same server) → `{name}` for a valid bearer token, else
 *   401 `{"message": "Unauthorized", "error": 401}`.
 *
 * "All bearer tokens expire after 1 hour" (the wiki; its sample answer's "Unix Epoch Seconds"
 * is wrong: it is a lifetime), so expires_in is 3600 unless set.
 */
export interface FakeRedditOptions {
  /** When set, only this client_id is accepted (default `reddit-installed-app`). */
  clientId?: string;
  /** A web or script app's secret; unset: an installed app, whose password is empty. */
  clientSecret?: string;
  /** The one redirect_uri registered for the app; unset: any loopback one. */
  redirectUri?: string;
  accessTokenTtlS?: number;
  /** The Reddit user name (default `sigil_tester`). */
  userName?: string;
}

export interface FakeRedditCounts {
  authorizeRequests: number;
  authorizationCode: number;
  refresh: number;
  revocations: number;
  /** Requests refused with 429 for want of a User-Agent of their own. */
  tooManyRequests: number;
}

export interface FakeReddit {
  /** `http://127.0.0.1:<port>` (stands for https://www.reddit.com and https://oauth.reddit.com). */
  baseUrl: string;
  endpoints: { authorization_endpoint: string; token_endpoint: string; revocation_endpoint: string; me_endpoint: string };
  counts: FakeRedditCounts;
  /** The User-Agent of every API request so far, in order. */
  userAgents: string[];
  /** The query of the last authorize request. */
  lastAuthorize: Record<string, string> | undefined;
  setAuthorizeDecision(d: 'approve' | 'deny'): void;
  /** The app becomes a web app with this secret (the empty string: an installed app again). */
  setClientSecret(s: string): void;
  /** How many refresh tokens are valid (issued, not revoked). */
  liveRefreshTokens(): number;
  close(): Promise<void>;
}

const LIBRARY_AGENTS = /^(node|undici|oauth4webapi\/|python-requests\/|curl\/)/;

const tok = (n: number) => `${Math.floor(Math.random() * 1e9)}-${randomBytes(n).toString('base64url')}`;

function isLoopback(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

export async function startFakeReddit(opts: FakeRedditOptions = {}): Promise<FakeReddit> {
  const clientId = opts.clientId ?? 'reddit-installed-app';
  let secret = opts.clientSecret ?? '';
  const ttl = opts.accessTokenTtlS ?? 3600;
  const userName = opts.userName ?? 'sigil_tester';
  let decision: 'approve' | 'deny' = 'approve';
  const counts: FakeRedditCounts = { authorizeRequests: 0, authorizationCode: 0, refresh: 0, revocations: 0, tooManyRequests: 0 };
  const userAgents: string[] = [];
  let lastAuthorize: Record<string, string> | undefined;
  const codes = new Map<string, { redirectUri: string; scope: string; permanent: boolean }>();
  const access = new Map<string, { expiresAt: number; refresh?: string }>();
  const refresh = new Map<string, { scope: string }>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const page400 = (res: ServerResponse, msg: string) => {
    res.writeHead(400, { 'content-type': 'text/html; charset=UTF-8' });
    res.end(`<!doctype html><html><body><h1>Bad Request</h1><p>${msg}</p></body></html>`);
  };
  const redirectOk = (uri: string | undefined) => !!uri && (opts.redirectUri === undefined ? isLoopback(uri) : uri === opts.redirectUri);
  const issue = (scope: string, refreshToken?: string) => {
    const access_token = tok(24);
    access.set(access_token, { expiresAt: Date.now() + ttl * 1000, ...(refreshToken ? { refresh: refreshToken } : {}) });
    return { access_token, token_type: 'bearer', expires_in: ttl, scope };
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/v1/authorize') {
      counts.authorizeRequests++;
      const q = Object.fromEntries(url.searchParams);
      lastAuthorize = q;
      if (q.client_id !== clientId) return page400(res, 'invalid client id');
      if (!redirectOk(q.redirect_uri)) return page400(res, 'invalid redirect_uri parameter');
      const target = new URL(q.redirect_uri!);
      if (q.state !== undefined) target.searchParams.set('state', q.state);
      if (q.response_type !== 'code') target.searchParams.set('error', 'unsupported_response_type');
      else if (q.duration !== 'permanent' && q.duration !== 'temporary') target.searchParams.set('error', 'invalid_request');
      else if (decision === 'deny') target.searchParams.set('error', 'access_denied');
      else {
        const code = tok(18);
        codes.set(code, { redirectUri: q.redirect_uri!, scope: (q.scope ?? '').split(/[\s,]+/).filter(Boolean).join(' '), permanent: q.duration === 'permanent' });
        target.searchParams.set('code', code);
      }
      res.writeHead(302, { location: target.href });
      return void res.end();
    }

    // The API's rule, not the sign-in page's: that one is a browser's.
    const ua = req.headers['user-agent'] ?? '';
    userAgents.push(ua);
    if (ua === '' || LIBRARY_AGENTS.test(ua)) {
      counts.tooManyRequests++;
      return json(res, 429, { message: 'Too Many Requests', error: 429 });
    }

    if (req.method === 'POST' && (url.pathname === '/api/v1/access_token' || url.pathname === '/api/v1/revoke_token')) {
      const basic = basicAuth(req);
      if (!basic || basic.id !== clientId || basic.secret !== secret) return json(res, 401, { message: 'Unauthorized', error: 401 });
      const p = await readParams(req);
      if (url.pathname === '/api/v1/revoke_token') {
        counts.revocations++;
        const t = p.token ?? '';
        if (refresh.delete(t)) for (const [a, v] of access) if (v.refresh === t) access.delete(a);
        access.delete(t);
        res.writeHead(204);
        return void res.end();
      }
      if (p.grant_type === 'authorization_code') {
        counts.authorizationCode++;
        if (!p.code || !p.redirect_uri) return json(res, 200, { error: 'NO_TEXT' });
        const c = codes.get(p.code);
        codes.delete(p.code);
        if (!c || c.redirectUri !== p.redirect_uri) return json(res, 200, { error: 'invalid_grant' });
        if (!c.permanent) return json(res, 200, issue(c.scope));
        const refresh_token = tok(24);
        refresh.set(refresh_token, { scope: c.scope });
        return json(res, 200, { ...issue(c.scope, refresh_token), refresh_token });
      }
      if (p.grant_type === 'refresh_token') {
        counts.refresh++;
        const r = p.refresh_token ? refresh.get(p.refresh_token) : undefined;
        if (!r) return json(res, 200, { error: 'invalid_grant' });
        return json(res, 200, issue(r.scope, p.refresh_token));
      }
      return json(res, 200, { error: 'unsupported_grant_type' });
    }

    if (req.method === 'GET' && url.pathname === '/api/v1/me') {
      const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      const a = m ? access.get(m[1]!) : undefined;
      if (!a || Date.now() >= a.expiresAt) return json(res, 401, { message: 'Unauthorized', error: 401 });
      return json(res, 200, { name: userName });
    }

    json(res, 404, { message: 'Not Found', error: 404 });
  }

  const http = await listenLoopback(handle);
  const base = http.baseUrl;
  return {
    baseUrl: base,
    endpoints: {
      authorization_endpoint: `${base}/api/v1/authorize`,
      token_endpoint: `${base}/api/v1/access_token`,
      revocation_endpoint: `${base}/api/v1/revoke_token`,
      me_endpoint: `${base}/api/v1/me`,
    },
    counts,
    userAgents,
    get lastAuthorize() {
      return lastAuthorize;
    },
    setAuthorizeDecision(d) {
      decision = d;
    },
    setClientSecret(s) {
      secret = s;
    },
    liveRefreshTokens: () => refresh.size,
    close: () => http.close(),
  };
}
