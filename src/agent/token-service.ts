import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { credentialKey } from '../protocol/names.js';
import type { AccountMeta } from './account-registry.js';
import type { AgentState } from './agent-state.js';

/** DESIGN.md: a cached token is served only while it stays valid this much longer. */
export const MIN_VALIDITY_S = 5 * 60;

export interface IssuedToken {
  access_token: string;
  token_type: string;
  /** Unix seconds; null for tokens that do not expire (GitHub PATs, API keys). */
  expires_at: number | null;
}

export interface TokenInput {
  access_token: Buffer;
  refresh_token?: Buffer;
  token_type?: string;
  expires_at?: number;
}

export type AccountStatus = 'valid' | 'expiring' | 'expired' | 'needs_auth' | 'static';

/** Account health from metadata alone, so it can be shown while locked. */
export function accountStatus(meta: AccountMeta, nowS: number): AccountStatus {
  if (meta.needs_auth) return 'needs_auth';
  if (meta.expires_at === undefined) return meta.kind === 'static' ? 'static' : 'valid';
  if (meta.expires_at <= nowS) return meta.kind === 'static' ? 'expired' : 'valid';
  return meta.expires_at - nowS <= MIN_VALIDITY_S ? 'expiring' : 'valid';
}

/**
 * Hands out access tokens. Static tokens are served until they expire; OAuth accounts
 * (refresh, single flight, rotation) plug in here with the OAuth work.
 */
export class TokenService {
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly state: AgentState,
    private readonly nowS: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  lastUsedAt(service: string, account: string): number | undefined {
    return this.lastUsed.get(`${service}/${account}`);
  }

  async getToken(service: string, account: string): Promise<IssuedToken> {
    const store = this.state.requireStore();
    const meta = this.state.registry.require(service, account);
    const now = this.nowS();
    if (meta.needs_auth) throw reauth(meta, 'needs to be authorized again');
    const value = await store.get(credentialKey(service, account, 'access_token'));
    if (!value) throw reauth(meta, 'has no access token');
    if (meta.expires_at !== undefined && meta.expires_at <= now) {
      value.fill(0);
      throw reauth(meta, 'has an expired token');
    }
    this.lastUsed.set(`${service}/${account}`, now);
    const token = value.toString('utf8');
    value.fill(0);
    return { access_token: token, token_type: meta.token_type ?? 'Bearer', expires_at: meta.expires_at ?? null };
  }

  /** Stores tokens given by the person (static tokens, API keys, imported OAuth tokens). */
  async setToken(service: string, account: string, input: TokenInput): Promise<AccountMeta> {
    const store = this.state.requireStore();
    const reg = this.state.registry;
    if (!reg.get(service, account)) {
      await reg.add({ service, account, kind: input.refresh_token ? 'oauth' : 'static', created: new Date(this.nowS() * 1000).toISOString() });
    }
    // Secrets first: metadata that promises a token must never point at a missing one.
    await store.set(credentialKey(service, account, 'access_token'), input.access_token);
    if (input.refresh_token) await store.set(credentialKey(service, account, 'refresh_token'), input.refresh_token);
    return reg.update(service, account, {
      token_type: input.token_type ?? 'Bearer',
      expires_at: input.expires_at,
      needs_auth: undefined,
    });
  }
}

function reauth(meta: AccountMeta, why: string): SigilError {
  const id = `${meta.service} ${meta.account}`;
  const fix = meta.kind === 'static' ? `sigil token set ${id}` : `sigil accounts authorize ${id}`;
  return new SigilError(ErrorCode.REAUTH_REQUIRED, `${meta.service}/${meta.account} ${why} — run: ${fix}`);
}
