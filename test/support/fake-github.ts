import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-http.js';

/**
 * A fake of GitHub's OAuth endpoints on 127.0.0.1 and an ephemeral port, answering as GitHub
 * documents ("Authorizing OAuth apps", "Refreshing user access tokens"):
 *
 * - `POST /login/device/code` → device_code, user_code `XXXX-XXXX`, verification_uri,
 *   expires_in 899, interval.
 * - `POST /login/oauth/access_token`: device_code, authorization_code and refresh_token grants.
 *   Errors come with HTTP 200 and an `error` field (`authorization_pending`, `slow_down` with the
 *   new `interval`, `expired_token`, `access_denied`, `bad_refresh_token`, …), as GitHub does.
 * - `GET /login/oauth/authorize` → redirects at once to redirect_uri with code and state (or
 *   `error=access_denied` after `setAuthorizeDecision('deny')`); PKCE S256 checked at exchange.
 * - `GET /user` (the API, same server) → `{login}` for a valid token, else 401 "Bad credentials".
 *
 * Answers are `application/x-www-form-urlencoded` unless the request's Accept header includes
 * `application/json`. Request bodies: form-encoded or JSON; query parameters count too.
 *
 * Modes: `expiring` ("expiring user tokens": `ghu_` access token, expires_in 28800, `ghr_`
 * refresh token with refresh_token_expires_in 15897600, rotated on every refresh — the old one
 * is dead at once) or `non-expiring` (`gho_` tokens, no expires_in, no refresh token).
 */
export type GithubMode = 'expiring' | 'non-expiring';

export interface FakeGithubOptions {
  /** Default `expiring`. */
  mode?: GithubMode;
  /** `interval` in the device code response (GitHub: 5). */
  interval?: number;
  /** Seconds added to the interval on `slow_down` (GitHub: 5). */
  slowDownIncrement?: number;
  /** Device code lifetime in seconds (GitHub: 899). */
  deviceExpiresIn?: number;
  /** `expires_in` of `ghu_` tokens (GitHub: 28800). */
  accessTokenTtlS?: number;
  /** `refresh_token_expires_in` of `ghr_` tokens (GitHub: 15897600). */
  refreshTokenTtlS?: number;
  /** When set, only this client_id is accepted. */
  clientId?: string;
  /** When set, the authorization_code and refresh_token grants require it (body or Basic). */
  clientSecret?: string;
  /** Login of the user who authorizes (default `octocat`); `GET /user` answers it. */
  login?: string;
}

export interface FakeGithubCounts {
  /** POST /login/device/code */
  deviceCodes: number;
  /** Token requests with the device_code grant (every poll). */
  devicePolls: number;
  /** Polls answered `slow_down`. */
  slowDowns: number;
  /** Token requests exchanging an authorization code. */
  authorizationCode: number;
  /** Token requests with grant_type=refresh_token. */
  refresh: number;
  /** Every POST /login/oauth/access_token. */
  tokenRequests: number;
  /** GET /login/oauth/authorize */
  authorizeRequests: number;
}

export interface FakeGithub {
  /** `http://127.0.0.1:<port>` (stands for both https://github.com and https://api.github.com). */
  baseUrl: string;
  endpoints: {
    authorization_endpoint: string;
    token_endpoint: string;
    device_authorization_endpoint: string;
    verification_uri: string;
    user_endpoint: string;
  };
  counts: FakeGithubCounts;
  /** The user enters the code and authorizes (the next poll gets the token). */
  approveDevice(userCode: string, login?: string): void;
  /** The user cancels (the next poll gets `access_denied`). */
  denyDevice(userCode: string): void;
  /** The device code expires now (the next poll gets `expired_token`). */
  expireDevice(userCode: string): void;
  /** user_code of the latest device code issued. */
  lastUserCode(): string | undefined;
  /** What `GET /login/oauth/authorize` does from now on (default approve). */
  setAuthorizeDecision(d: 'approve' | 'deny'): void;
  setMode(mode: GithubMode): void;
  setAccessTokenTtl(s: number): void;
  /** Every access and refresh token issued so far becomes invalid. */
  revokeAllTokens(): void;
  close(): Promise<void>;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DOCS = 'https://docs.github.com';
const ERR = {
  authorization_pending: ['The authorization request is still pending.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  slow_down: ['Too many requests have been made in the same timeframe.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  expired_token: ['The `device_code` has expired.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  access_denied: ['The authorization request was denied.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  incorrect_device_code: ['The device_code provided is not valid.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  incorrect_client_credentials: ['The client_id and/or client_secret passed are incorrect.', `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials`],
  unsupported_grant_type: ['The grant type is not supported.', `${DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow`],
  bad_verification_code: ['The code passed is incorrect or expired.', `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code`],
  redirect_uri_mismatch: ['The redirect_uri MUST match the registered callback URL for this application.', `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2`],
  bad_refresh_token: ['The refresh token passed is incorrect or expired.', `${DOCS}/apps/managing-github-apps/refreshing-user-to-server-access-tokens`],
} as const;
type GithubError = keyof typeof ERR;

const USER_CODE_CHARS = 'BCDFGHJKLMNPQRSTVWXZ'; // GitHub's codes: consonants, e.g. WDJB-MJHT

interface Device {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scope: string;
  expiresAt: number;
  interval: number;
  lastPollAt: number | undefined;
  state: 'pending' | 'approved' | 'denied' | 'used';
  login: string;
}
interface Code {
  clientId: string;
  redirectUri: string | undefined;
  challenge: string | undefined;
  method: string | undefined;
  scope: string;
  expiresAt: number;
}
interface Access {
  login: string;
  expiresAt: number | undefined;
}
interface Refresh {
  login: string;
  clientId: string;
  scope: string;
  expiresAt: number;
}

const rand = (n: number) => randomBytes(n).toString('hex');
const token = (prefix: string) => prefix + randomBytes(27).toString('base64url').replace(/[-_]/g, 'A').slice(0, 36);

export function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost');
  } catch {
    return false;
  }
}

/** Form or JSON body plus query parameters; ≤ 64 KiB. */
export async function readParams(req: IncomingMessage): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const url = new URL(req.url ?? '/', 'http://x');
  for (const [k, v] of url.searchParams) out[k] = v;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 65536) throw new Error('body too large');
    chunks.push(c);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  if (!body) return out;
  if ((req.headers['content-type'] ?? '').includes('json')) {
    const j = JSON.parse(body) as Record<string, unknown>;
    for (const [k, v] of Object.entries(j)) if (v !== undefined && v !== null) out[k] = String(v);
  } else {
    for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  }
  return out;
}

/** client_id / client_secret from HTTP Basic, if sent. */
export function basicAuth(req: IncomingMessage): { id: string; secret: string } | undefined {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return undefined;
  const dec = Buffer.from(h.slice(6), 'base64').toString('utf8');
  const i = dec.indexOf(':');
  if (i < 0) return undefined;
  return { id: decodeURIComponent(dec.slice(0, i)), secret: decodeURIComponent(dec.slice(i + 1)) };
}

export const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export async function startFakeGithub(opts: FakeGithubOptions = {}): Promise<FakeGithub> {
  let mode: GithubMode = opts.mode ?? 'expiring';
  let accessTtl = opts.accessTokenTtlS ?? 28800;
  const refreshTtl = opts.refreshTokenTtlS ?? 15897600;
  const interval = opts.interval ?? 5;
  const slowDownIncrement = opts.slowDownIncrement ?? 5;
  const deviceExpiresIn = opts.deviceExpiresIn ?? 899;
  const defaultLogin = opts.login ?? 'octocat';
  let authorizeDecision: 'approve' | 'deny' = 'approve';

  const counts: FakeGithubCounts = {
    deviceCodes: 0,
    devicePolls: 0,
    slowDowns: 0,
    authorizationCode: 0,
    refresh: 0,
    tokenRequests: 0,
    authorizeRequests: 0,
  };
  const devices = new Map<string, Device>(); // by device_code
  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, Access>();
  const refreshTokens = new Map<string, Refresh>();
  let lastUserCode: string | undefined;

  const byUserCode = (userCode: string) => {
    const norm = userCode.toUpperCase();
    for (const d of devices.values()) if (d.userCode === norm) return d;
    throw new Error(`fake-github: no device with user code ${userCode}`);
  };

  const wantsJson = (req: IncomingMessage) => (req.headers.accept ?? '').includes('application/json');
  const send = (req: IncomingMessage, res: ServerResponse, body: Record<string, string | number>, status = 200) => {
    if (wantsJson(req)) {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    } else {
      const form = new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]));
      res.writeHead(status, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'cache-control': 'no-store' });
      res.end(form.toString());
    }
  };
  const fail = (req: IncomingMessage, res: ServerResponse, error: GithubError, extra: Record<string, string | number> = {}) => {
    const [description, uri] = ERR[error];
    // GitHub answers OAuth errors with HTTP 200.
    send(req, res, { error, error_description: description, error_uri: uri, ...extra });
  };

  const issueTokens = (login: string, clientId: string, scope: string, as: GithubMode = mode): Record<string, string | number> => {
    if (as === 'non-expiring') {
      const at = token('gho_');
      accessTokens.set(at, { login, expiresAt: undefined });
      return { access_token: at, token_type: 'bearer', scope };
    }
    const at = token('ghu_');
    const rt = token('ghr_');
    const now = Date.now();
    accessTokens.set(at, { login, expiresAt: now + accessTtl * 1000 });
    refreshTokens.set(rt, { login, clientId, scope, expiresAt: now + refreshTtl * 1000 });
    return {
      access_token: at,
      expires_in: accessTtl,
      refresh_token: rt,
      refresh_token_expires_in: refreshTtl,
      // GitHub Apps' user tokens carry no scopes.
      scope: '',
      token_type: 'bearer',
    };
  };

  const clientOk = (clientId: string | undefined) => !!clientId && (opts.clientId === undefined || clientId === opts.clientId);
  const secretOk = (p: Record<string, string>, req: IncomingMessage) => {
    if (opts.clientSecret === undefined) return true;
    const basic = basicAuth(req);
    return (p.client_secret ?? basic?.secret) === opts.clientSecret;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;

    if (req.method === 'POST' && path === '/login/device/code') {
      const p = await readParams(req);
      counts.deviceCodes++;
      if (!clientOk(p.client_id)) return fail(req, res, 'incorrect_client_credentials');
      let userCode: string;
      do {
        const b = randomBytes(8);
        const c = [...b].map((x) => USER_CODE_CHARS[x % USER_CODE_CHARS.length]).join('');
        userCode = `${c.slice(0, 4)}-${c.slice(4)}`;
      } while ([...devices.values()].some((d) => d.userCode === userCode));
      const d: Device = {
        deviceCode: rand(20),
        userCode,
        clientId: p.client_id!,
        scope: (p.scope ?? '').split(/[\s,]+/).filter(Boolean).join(','),
        expiresAt: Date.now() + deviceExpiresIn * 1000,
        interval,
        lastPollAt: undefined,
        state: 'pending',
        login: defaultLogin,
      };
      devices.set(d.deviceCode, d);
      lastUserCode = userCode;
      return send(req, res, {
        device_code: d.deviceCode,
        user_code: userCode,
        verification_uri: `${baseUrl}/login/device`,
        expires_in: deviceExpiresIn,
        interval,
      });
    }

    if (req.method === 'POST' && path === '/login/oauth/access_token') {
      const p = await readParams(req);
      counts.tokenRequests++;
      const basic = basicAuth(req);
      const clientId = p.client_id ?? basic?.id;
      const grant = p.grant_type ?? (p.code ? 'authorization_code' : p.device_code ? DEVICE_GRANT : undefined);

      if (grant === DEVICE_GRANT) {
        counts.devicePolls++;
        if (!clientOk(clientId)) return fail(req, res, 'incorrect_client_credentials');
        const d = p.device_code ? devices.get(p.device_code) : undefined;
        if (!d || d.clientId !== clientId || d.state === 'used') return fail(req, res, 'incorrect_device_code');
        const now = Date.now();
        if (now >= d.expiresAt) return fail(req, res, 'expired_token');
        const last = d.lastPollAt;
        d.lastPollAt = now;
        if (last !== undefined && now - last < d.interval * 1000) {
          d.interval += slowDownIncrement;
          counts.slowDowns++;
          return fail(req, res, 'slow_down', { interval: d.interval });
        }
        if (d.state === 'denied') return fail(req, res, 'access_denied');
        if (d.state === 'pending') return fail(req, res, 'authorization_pending');
        d.state = 'used';
        return send(req, res, issueTokens(d.login, d.clientId, d.scope));
      }

      if (grant === 'authorization_code') {
        counts.authorizationCode++;
        if (!clientOk(clientId) || !secretOk(p, req)) return fail(req, res, 'incorrect_client_credentials');
        const c = p.code ? codes.get(p.code) : undefined;
        if (p.code) codes.delete(p.code); // one use
        if (!c || c.clientId !== clientId || Date.now() >= c.expiresAt) return fail(req, res, 'bad_verification_code');
        if (p.redirect_uri !== undefined && c.redirectUri !== undefined && p.redirect_uri !== c.redirectUri) {
          return fail(req, res, 'redirect_uri_mismatch');
        }
        if (c.challenge !== undefined && (!p.code_verifier || s256(p.code_verifier) !== c.challenge)) {
          return fail(req, res, 'bad_verification_code');
        }
        return send(req, res, issueTokens(defaultLogin, c.clientId, c.scope));
      }

      if (grant === 'refresh_token') {
        counts.refresh++;
        if (!clientOk(clientId) || !secretOk(p, req)) return fail(req, res, 'incorrect_client_credentials');
        const r = p.refresh_token ? refreshTokens.get(p.refresh_token) : undefined;
        if (!r || r.clientId !== clientId || Date.now() >= r.expiresAt) return fail(req, res, 'bad_refresh_token');
        refreshTokens.delete(p.refresh_token!); // rotated: single use
        // Only expiring tokens have refresh tokens; a refresh yields a new expiring pair.
        return send(req, res, issueTokens(r.login, r.clientId, r.scope, 'expiring'));
      }

      return fail(req, res, 'unsupported_grant_type');
    }

    if (req.method === 'GET' && path === '/login/oauth/authorize') {
      counts.authorizeRequests++;
      const q = Object.fromEntries(url.searchParams);
      if (!clientOk(q.client_id)) {
        res.writeHead(404, { 'content-type': 'text/html' });
        return void res.end('<h1>404: the client_id is not known</h1>');
      }
      const redirect = q.redirect_uri;
      if (!redirect || !isLoopbackRedirect(redirect)) {
        res.writeHead(400, { 'content-type': 'text/html' });
        return void res.end('<h1>The redirect_uri is not associated with this application.</h1>');
      }
      const target = new URL(redirect);
      if (authorizeDecision === 'deny') {
        target.searchParams.set('error', 'access_denied');
        target.searchParams.set('error_description', 'The user has denied your application access.');
        target.searchParams.set('error_uri', `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied`);
      } else {
        if (q.code_challenge !== undefined && q.code_challenge_method !== 'S256') {
          res.writeHead(400, { 'content-type': 'text/html' });
          return void res.end('<h1>code_challenge_method must be S256</h1>');
        }
        const code = rand(10);
        codes.set(code, {
          clientId: q.client_id!,
          redirectUri: redirect,
          challenge: q.code_challenge,
          method: q.code_challenge_method,
          scope: (q.scope ?? '').split(/[\s,]+/).filter(Boolean).join(','),
          expiresAt: Date.now() + 600_000,
        });
        target.searchParams.set('code', code);
      }
      if (q.state !== undefined) target.searchParams.set('state', q.state);
      res.writeHead(302, { location: target.href });
      return void res.end();
    }

    if (req.method === 'GET' && path === '/login/device') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<h1>Device Activation</h1><p>(fake: approve with the test hook)</p>');
    }

    if (req.method === 'GET' && path === '/user') {
      const auth = req.headers.authorization ?? '';
      const m = /^(?:token|bearer)\s+(\S+)$/i.exec(auth);
      const a = m ? accessTokens.get(m[1]!) : undefined;
      if (!a || (a.expiresAt !== undefined && Date.now() >= a.expiresAt)) {
        res.writeHead(401, { 'content-type': 'application/json; charset=utf-8' });
        return void res.end(JSON.stringify({ message: 'Bad credentials', documentation_url: `${DOCS}/rest`, status: '401' }));
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      return void res.end(JSON.stringify({ login: a.login, id: 1 }));
    }

    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ message: 'Not Found' }));
  }

  const http = await listenLoopback(handle);
  const baseUrl = http.baseUrl;
  return {
    baseUrl,
    endpoints: {
      authorization_endpoint: `${baseUrl}/login/oauth/authorize`,
      token_endpoint: `${baseUrl}/login/oauth/access_token`,
      device_authorization_endpoint: `${baseUrl}/login/device/code`,
      verification_uri: `${baseUrl}/login/device`,
      user_endpoint: `${baseUrl}/user`,
    },
    counts,
    approveDevice(userCode, login) {
      const d = byUserCode(userCode);
      d.state = 'approved';
      if (login) d.login = login;
    },
    denyDevice(userCode) {
      byUserCode(userCode).state = 'denied';
    },
    expireDevice(userCode) {
      byUserCode(userCode).expiresAt = Date.now();
    },
    lastUserCode: () => lastUserCode,
    setAuthorizeDecision(d) {
      authorizeDecision = d;
    },
    setMode(m) {
      mode = m;
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
