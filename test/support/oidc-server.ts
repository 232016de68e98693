import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OpenID Provider (oidc-provider 9) on 127.0.0.1 and an ephemeral port, in the calling
 * process — for end-to-end tests of the agent's OAuth flows (auth code + PKCE, device flow,
 * refresh with rotation, revoked grants). Each server has its own in-memory storage.
 *
 * One public native client, `sigil-test`: no secret, PKCE S256 required, loopback redirect
 * `http://127.0.0.1/callback` on any port. Any login name is accepted (devInteractions pages;
 * the password field is ignored). Refresh tokens are issued for every grant (no
 * offline_access needed) and rotated on every use; reusing a rotated one revokes the grant.
 */
export interface OidcServer {
  /** `http://127.0.0.1:<port>` — discovery at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: 'sigil-test';
  /**
   * Token endpoint POSTs seen, by grant_type (counted whether they succeeded or not).
   * `refresh` = refresh_token, `authorizationCode` = authorization_code,
   * `deviceCode` = urn:ietf:params:oauth:grant-type:device_code, `tokenRequests` = all token
   * endpoint POSTs; `revocations` = POSTs to the revocation endpoint (`/token/revocation`).
   */
  counts: { refresh: number; authorizationCode: number; deviceCode: number; tokenRequests: number; revocations: number };
  /** Every grant and every refresh/access token forgotten: refreshes answer `invalid_grant`. */
  revokeAllGrants(): Promise<void>;
  /** Lifetime of access tokens issued from now on, in seconds. */
  setAccessTokenTtl(s: number): void;
  close(): Promise<void>;
}

export interface OidcServerOptions {
  /** Access token lifetime in seconds (default 60). */
  accessTokenTtlS?: number;
  /** `interval` sent in the device authorization response (default 1). */
  deviceInterval?: number;
  /** Redirect URIs registered for `sigil-test` (default `['http://127.0.0.1/callback']`). */
  redirectUris?: string[];
  /** Keep oidc-provider's console NOTICE/WARNING lines (default false: filtered out). */
  verbose?: boolean;
}

export const OIDC_CLIENT_ID = 'sigil-test' as const;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// ---------------------------------------------------------------------------------------------
// oidc-provider ships no types (and @types/oidc-provider is not installed): the few shapes used.

interface KoaCtx {
  method: string;
  path: string;
  status: number;
  body: unknown;
  oidc?: { params?: Record<string, unknown> };
}
type KoaNext = () => Promise<void>;
interface ProviderInstance {
  use(mw: (ctx: KoaCtx, next: KoaNext) => Promise<void>): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  on(event: string, fn: (...args: unknown[]) => void): void;
}
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;

// oidc-provider talks through console.warn/console.info ("oidc-provider WARNING: Unsupported
// runtime…" at import on Node 20, "NOTICE: default … function called" on first use of each
// default). Filter exactly those lines, once per process; everything else passes through.
let quiet = true;
let consolePatched = false;
function patchConsole(): void {
  if (consolePatched) return;
  consolePatched = true;
  for (const level of ['warn', 'info'] as const) {
    const orig = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      if (quiet && typeof args[0] === 'string' && /^(\x1b\[[0-9;]*m)?oidc-provider (WARNING|NOTICE): /.test(args[0])) return;
      orig(...args);
    };
  }
}

let providerCtor: Promise<ProviderCtor> | undefined;
function loadProvider(): Promise<ProviderCtor> {
  patchConsole();
  // A non-literal specifier: TypeScript types it `any` instead of failing on the missing types.
  const spec: string = 'oidc-provider';
  providerCtor ??= import(spec).then((m: { default: ProviderCtor }) => m.default);
  return providerCtor;
}

// ---------------------------------------------------------------------------------------------
// Storage: a Map per server (oidc-provider's own MemoryAdapter is one LRU shared by the process).

interface Stored {
  payload: Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };
  expiresAt: number | undefined;
}

function makeAdapterFactory() {
  const models = new Map<string, Map<string, Stored>>();
  const store = (name: string) => {
    let m = models.get(name);
    if (!m) models.set(name, (m = new Map()));
    return m;
  };
  const live = (s: Stored | undefined) => (s && (s.expiresAt === undefined || s.expiresAt > Date.now()) ? s : undefined);

  class Adapter {
    private readonly m: Map<string, Stored>;
    constructor(readonly name: string) {
      this.m = store(name);
    }
    async upsert(id: string, payload: Stored['payload'], expiresIn?: number) {
      this.m.set(id, { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined });
    }
    async find(id: string) {
      return live(this.m.get(id))?.payload;
    }
    async findByUserCode(userCode: string) {
      for (const s of this.m.values()) if (s.payload.userCode === userCode && live(s)) return s.payload;
      return undefined;
    }
    async findByUid(uid: string) {
      for (const s of this.m.values()) if (s.payload.uid === uid && live(s)) return s.payload;
      return undefined;
    }
    async consume(id: string) {
      const s = this.m.get(id);
      if (s) s.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      this.m.delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const m of models.values()) for (const [id, s] of m) if (s.payload.grantId === grantId) m.delete(id);
    }
  }

  const revokeAll = () => {
    for (const name of ['Grant', 'RefreshToken', 'AccessToken', 'AuthorizationCode']) models.get(name)?.clear();
  };
  return { Adapter, revokeAll };
}

// ---------------------------------------------------------------------------------------------

export async function startOidcServer(opts: OidcServerOptions = {}): Promise<OidcServer> {
  if (opts.verbose) quiet = false;
  const Provider = await loadProvider();

  let accessTokenTtl = opts.accessTokenTtlS ?? 60;
  const deviceInterval = opts.deviceInterval ?? 1;
  const counts = { refresh: 0, authorizationCode: 0, deviceCode: 0, tokenRequests: 0, revocations: 0 };
  const { Adapter, revokeAll } = makeAdapterFactory();

  // The issuer must be known before the Provider exists: bind first, attach the handler after.
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    adapter: Adapter,
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_name: 'Sigilforge test client',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: opts.redirectUris ?? ['http://127.0.0.1/callback'],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      },
    ],
    cookies: { keys: [randomBytes(16).toString('hex')] },
    // Any login name is an account.
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: id, email: `${id}@example.test` }),
    }),
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    pkce: { required: () => true },
    // Refresh tokens for every grant that allows refresh_token, offline_access or not …
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    // … not tied to the browser session (a later login in the same browser must not kill them).
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    // The default (15 s) keeps an expired access token valid at the resource server.
    clockTolerance: 0,
    ttl: {
      AccessToken: () => accessTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
    renderError: async (ctx: KoaCtx, out: Record<string, string>) => {
      (ctx as unknown as { type: string }).type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>oops</title></head><body><h1>oops! something went wrong</h1>${Object.entries(
        out,
      )
        .map(([k, v]) => `<pre id="${k}">${String(v).replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>`)
        .join('')}</body></html>`;
    },
  });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/token') {
      // oidc-provider parses the form body itself; read the grant_type it parsed, after it ran.
      const grantType = ctx.oidc?.params?.grant_type;
      counts.tokenRequests++;
      if (grantType === 'refresh_token') counts.refresh++;
      else if (grantType === 'authorization_code') counts.authorizationCode++;
      else if (grantType === DEVICE_GRANT) counts.deviceCode++;
    } else if (ctx.path === '/token/revocation') {
      counts.revocations++;
    } else if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      // oidc-provider sends no `interval` (RFC 8628 then means 5 s): add the configured one.
      const body = ctx.body as Record<string, unknown>;
      if (body.device_code && body.interval === undefined) ctx.body = { ...body, interval: deviceInterval };
    }
  });
  // Errors are answered to the client; do not let them reach stderr as "unhandled".
  provider.on('server_error', () => {});

  const handler = provider.callback();
  server.on('request', handler);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  let closed: Promise<void> | undefined;
  return {
    issuer,
    clientId: OIDC_CLIENT_ID,
    counts,
    async revokeAllGrants() {
      revokeAll();
    },
    setAccessTokenTtl(s: number) {
      accessTokenTtl = s;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
