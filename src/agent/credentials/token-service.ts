import type * as oidc from 'openid-client';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { credentialKey } from '../../protocol/names.js';
import { authScheme, MAX_EXPIRES_IN_S } from '../../protocol/token-rules.js';
import type { AccountStatus, TokenAnswer } from '../../protocol/results.js';
import { describeError, oauthErrorCode } from '../../oauth/oauth-errors.js';
import type { ProviderRegistry } from '../../oauth/provider-registry.js';
import { dropEncoding, keepEncoding } from '../../protocol/msgpack.js';
import { accountKey, type AccountMeta, type AccountRegistry } from './account-registry.js';
import { writeAccount } from './account-writes.js';
import type { SecretStore } from '../../stores/secret-store.js';
import type { AuditLog } from '../audit-log.js';
import { nowS, type Clock } from '../clock.js';
import type { StoreGate } from '../lock/vault-lock.js';

/** DESIGN.md: a cached token is served only while it stays valid this much longer… */
export const MIN_VALIDITY_S = 5 * 60;

/** An account's last use reaches accounts.toml at most this often (never a write per get_token); memory is exact. */
export const LAST_USED_WRITE_S = 60;

/**
 * … or, for a token issued with less than twice that, while it has more than half its
 * lifetime left: a 300-second token (Keycloak's default) would otherwise be due the moment
 * it arrives, and every call would refresh. `capS` is MIN_VALIDITY_S on use, the
 * refresh_ahead window in the background. Entries stored before the issue time was kept (no
 * issued_at) count as long-lived: their next refresh records it.
 */
export function refreshLeadS(meta: AccountMeta, capS = MIN_VALIDITY_S): number {
  if (meta.expires_at === undefined || meta.issued_at === undefined) return capS;
  return Math.min(capS, Math.max(0, (meta.expires_at - meta.issued_at) / 2));
}

/** A token handed out, valid while the account's metadata and the store are as they were then. */
interface IssuedEntry {
  meta: AccountMeta;
  store: SecretStore;
  writes: number;
  token: TokenAnswer;
}

export interface TokenInput {
  access_token: Buffer;
  refresh_token?: Buffer;
  token_type?: string;
  expires_at?: number;
}

/** Account health from metadata alone, so it can be shown while locked. */
export function accountStatus(meta: AccountMeta, nowS: number): AccountStatus {
  if (meta.sign_in_here) return 'sign_in_here';
  if (meta.needs_auth) return 'needs_auth';
  if (meta.expires_at === undefined) return meta.kind === 'static' ? 'static' : 'valid';
  // An expired OAuth access token is normal: the next use refreshes it.
  if (meta.expires_at <= nowS) return meta.kind === 'static' ? 'expired' : 'expiring';
  return meta.expires_at - nowS <= refreshLeadS(meta) ? 'expiring' : 'valid';
}

/** What the token service uses. */
export interface TokenServiceOptions {
  store: StoreGate;
  registry: AccountRegistry;
  providers: ProviderRegistry;
  audit: Pick<AuditLog, 'record'>;
  log: (msg: string) => void;
  clock: Clock;
  /**
   * config.toml's `[tokens] persist_access_tokens` (default true). False: an OAuth account's
   * access token is held in memory only (dropped on lock, gone with the agent), so the first
   * use after an unlock or a restart refreshes; refresh tokens and static tokens (nothing
   * could refresh them) are stored as ever.
   */
  persistAccessTokens?: boolean;
  /** An account was signed out by its provider (or has no refresh token): the person must act. */
  onNeedsAuth?: (meta: AccountMeta, reason: string) => void;
  /** An account's tokens changed (a flow, a refresh): refresh ahead schedules its next refresh. */
  onStored?: (service: string, account: string) => void;
}

/**
 * Hands out access tokens: static ones as stored, OAuth ones refreshed when they have
 * less than refreshLeadS() left — one refresh per account at a time whatever the number of
 * callers (providers with reuse detection revoke the whole grant when a rotated refresh
 * token is used twice), and the rotated refresh token is durable before anyone sees the
 * new access token.
 */
export class TokenService {
  private readonly lastUsed = new Map<string, number>();
  /** When each account's last use was last written to accounts.toml, by the clock (Unix seconds). */
  private readonly lastUsedWritten = new Map<string, number>();
  /** Uses newer than what accounts.toml holds, written on lock and shutdown (flushLastUsed). */
  private readonly lastUsedUnwritten = new Map<string, { service: string; account: string; at: number }>();
  /**
   * The hot path's memo: the last token handed out per account, so a script asking in a
   * loop costs a map lookup rather than a copy out of the store, a decode and a wipe. Any
   * write to the store, any change to the account's metadata and every lock make it stale;
   * it holds nothing the answers themselves did not (JavaScript strings), and is dropped on lock.
   */
  private readonly issued = new Map<string, IssuedEntry>();
  private readonly inflight = new Map<string, Promise<TokenAnswer>>();
  /** getTokenNow's last account and its key. */
  private lastService = '';
  private lastAccount = '';
  private lastKey = '';
  /**
   * What a provider answered to a refresh that could not be saved (a full disk), per account.
   * The provider has rotated the refresh token, so the old one in the store may be dead: the
   * next refresh saves this one instead of spending the old one again. Never handed out
   * before it is saved; dropped on lock (like every decrypted value).
   */
  private readonly unsaved = new Map<string, { res: oidc.TokenEndpointResponse; receivedS: number; created: string }>();
  /**
   * With persist_access_tokens = false, the OAuth access tokens that are not stored, per
   * account, with the account's `created` (a removed and re-added account does not inherit
   * one). Dropped on lock, like every decrypted value.
   */
  private readonly held = new Map<string, { token: string; created: string }>();

  constructor(private readonly opts: TokenServiceOptions) {}

  private nowS(): number {
    return nowS(this.opts.clock);
  }

  /** Exact while the agent runs; after a restart, what accounts.toml kept. */
  lastUsedAt(service: string, account: string): number | undefined {
    return this.lastUsed.get(`${service}/${account}`) ?? this.opts.registry.get(service, account)?.last_used;
  }

  /** Writes the uses not yet in accounts.toml (on lock, so on shutdown too). */
  async flushLastUsed(): Promise<void> {
    const uses = [...this.lastUsedUnwritten.values()];
    this.lastUsedUnwritten.clear();
    await this.opts.registry.recordUse(uses).catch((err: unknown) => this.opts.log(`could not record when accounts were last used: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** A token was handed out: exact in memory, and written when the account's last write is a minute old. */
  private used(service: string, account: string, now: number, key = accountKey(service, account)): void {
    this.lastUsed.set(key, now);
    const written = this.lastUsedWritten.get(key);
    if (written !== undefined && now - written < LAST_USED_WRITE_S) {
      // The hot path: no object per call (flushLastUsed takes the entries out before it writes them).
      const pending = this.lastUsedUnwritten.get(key);
      if (pending) pending.at = now;
      else this.lastUsedUnwritten.set(key, { service, account, at: now });
      return;
    }
    this.lastUsedWritten.set(key, now);
    this.lastUsedUnwritten.delete(key);
    this.opts.registry.recordUse([{ service, account, at: now }]).catch((err: unknown) => {
      this.lastUsedUnwritten.set(key, { service, account, at: now }); // the flush tries again
      this.opts.log(`could not record when ${key} was last used: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Resolves when no refresh is running: lock waits for it so a rotated token is never lost. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
  }

  /**
   * The hot path, without a promise: a token that needs no refresh, from a store that holds
   * values in memory. Null means "take the general path" (refresh due, unknown account, an
   * asynchronous store), which also produces every error.
   */
  getTokenNow(service: string, account: string): TokenAnswer | null {
    this.opts.store.requireStore();
    // One key for every map on the way: building it costs more than the lookups, so the last
    // one is kept (a script asks for one account in a loop; comparing two strings is cheaper).
    let key = this.lastKey;
    if (service !== this.lastService || account !== this.lastAccount) {
      key = this.lastKey = accountKey(service, account);
      this.lastService = service;
      this.lastAccount = account;
    }
    const meta = this.opts.registry.byKey(key);
    if (!meta || meta.needs_auth || meta.sign_in_here) return null;
    const store = this.storeOf(meta.kind);
    if (!store.peek) return null;
    const now = this.nowS();
    const left = meta.expires_at === undefined ? Infinity : meta.expires_at - now;
    if (left <= (meta.kind === 'static' ? 0 : refreshLeadS(meta))) return null;
    const hit = this.issued.get(key);
    if (hit && hit.meta === meta && hit.store === store && hit.writes === this.opts.store.storeWrites) {
      this.used(service, account, now, key);
      return hit.token;
    }
    const value = this.heldToken(meta) ?? store.peek(credentialKey(service, account, 'access_token'));
    if (!value) return null;
    // Handed out again until something changes: its encoding is made once, not per answer.
    const token = keepEncoding(this.issue(meta, value));
    const old = this.issued.get(key);
    if (old) dropEncoding(old.token);
    this.issued.set(key, { meta, store, writes: this.opts.store.storeWrites, token });
    return token;
  }

  /** On lock: the memo goes with the store. */
  forget(): void {
    for (const { token } of this.issued.values()) dropEncoding(token);
    this.issued.clear();
    this.unsaved.clear();
    this.held.clear();
  }

  async getToken(service: string, account: string): Promise<TokenAnswer> {
    this.opts.store.requireStore();
    const meta = this.opts.registry.require(service, account);
    const store = this.storeOf(meta.kind);
    const now = this.nowS();
    if (meta.sign_in_here) throw reauth(meta, 'is not signed in on this device', 'sign in on this device');
    if (meta.needs_auth) throw reauth(meta, 'needs to be authorized again');
    const value = this.heldToken(meta) ?? (await store.get(credentialKey(service, account, 'access_token')));
    const left = meta.expires_at === undefined ? Infinity : meta.expires_at - now;

    if (meta.kind === 'static') {
      if (!value) throw reauth(meta, 'has no access token');
      if (left <= 0) {
        value.fill(0);
        throw reauth(meta, 'has an expired token');
      }
      return this.issue(meta, value);
    }
    if (value && left > refreshLeadS(meta)) return this.issue(meta, value);
    try {
      const fresh = await this.refresh(service, account);
      value?.fill(0);
      this.used(service, account, now);
      return fresh;
    } catch (err) {
      // The provider is down but the token we hold still works: better than nothing.
      if (value && left > 0 && err instanceof SigilError && err.code === ErrorCode.PROVIDER_ERROR) {
        return this.issue(this.opts.registry.require(service, account), value);
      }
      value?.fill(0);
      throw err;
    }
  }

  /** Refreshes now (single flight per account), whatever the cached token's validity. */
  refresh(service: string, account: string): Promise<TokenAnswer> {
    const key = `${service}/${account}`;
    let running = this.inflight.get(key);
    if (!running) {
      // One audit line per refresh at the provider, however many callers shared it (and
      // background refreshes, which no request line covers).
      running = this.doRefresh(service, account)
        .then(
          (t) => {
            this.opts.audit.record({ op: 'refresh', target: key, result: 'ok' });
            return t;
          },
          (err: unknown) => {
            this.opts.audit.record({ op: 'refresh', target: key, result: err instanceof SigilError ? err.code : ErrorCode.INTERNAL });
            throw err;
          },
        )
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  /** Stores tokens given by the person (static tokens, API keys, imported OAuth tokens). */
  async setToken(service: string, account: string, input: TokenInput): Promise<AccountMeta> {
    const fresh: AccountMeta = { service, account, kind: input.refresh_token ? 'oauth' : 'static', created: new Date(this.nowS() * 1000).toISOString() };
    const kind = this.opts.registry.get(service, account)?.kind ?? fresh.kind;
    const store = this.storeOf(kind);
    const access = credentialKey(service, account, 'access_token');
    const sets: [string, Buffer][] = [];
    const inMemory = kind === 'oauth' && this.opts.persistAccessTokens === false;
    if (!inMemory) sets.push([access, input.access_token]);
    if (input.refresh_token) sets.push([credentialKey(service, account, 'refresh_token'), input.refresh_token]);
    const meta = await writeAccount(
      store,
      { sets, deletes: inMemory ? [access] : [] },
      () =>
        this.opts.registry.put(fresh, {
          token_type: (input.token_type && authScheme(input.token_type)) || 'Bearer', // set_token checked it
          expires_at: input.expires_at,
          issued_at: input.expires_at === undefined ? undefined : this.nowS(),
          needs_auth: undefined,
          sign_in_here: undefined,
        }),
      { undo: true, log: this.opts.log },
    );
    this.unsaved.delete(`${service}/${account}`); // the person's tokens replace what a refresh could not save
    this.hold(meta, inMemory ? input.access_token.toString('utf8') : undefined);
    return meta;
  }

  /**
   * Stores what a token endpoint answered: a flow's result, or a refresh (`refreshed`). The
   * caller hands the access token out only once this resolves, so never one whose rotated
   * refresh token is not durable.
   */
  async storeTokens(
    service: string,
    account: string,
    res: oidc.TokenEndpointResponse,
    requestedScopes?: string[],
    opts: { refreshed?: boolean } = {},
  ): Promise<TokenAnswer> {
    // Checked before anything is stored. openid-client already refuses every type but bearer
    // and DPoP; this keeps control characters out of accounts.toml and headers whatever the
    // library lets through. Refused rather than taken for Bearer: a word that is no scheme
    // means a broken (or hostile) provider, and guessing would present its token wrongly.
    const tokenType = authScheme(res.token_type ?? 'Bearer');
    if (!tokenType) throw new SigilError(ErrorCode.PROVIDER_ERROR, `the provider answered ${service}/${account}'s token request with a token_type that is no HTTP authentication scheme`);
    const store = this.storeOf('oauth');
    // The rotated refresh token first: it alone keeps the account signed in. A provider that
    // omits it (Spotify may) means "keep using the old one", so nothing is overwritten then.
    const sets: [string, Buffer][] = [];
    if (res.refresh_token) sets.push([credentialKey(service, account, 'refresh_token'), Buffer.from(res.refresh_token)]);
    const access = credentialKey(service, account, 'access_token');
    const inMemory = this.opts.persistAccessTokens === false;
    // In memory only: one stored before (the setting was true then) goes in the same write.
    if (!inMemory) sets.push([access, Buffer.from(res.access_token)]);
    // A lifetime past ten years (`expires_in: 1e308`) is taken as ten years rather than refused:
    // the sign-in itself is good, and the token is then merely refreshed sooner than claimed.
    const now = this.nowS();
    const expiresAt = typeof res.expires_in === 'number' ? now + Math.min(res.expires_in, MAX_EXPIRES_IN_S) : undefined;
    const scopes = typeof res.scope === 'string' ? res.scope.split(/[ ,]+/).filter(Boolean) : requestedScopes;
    const fresh: AccountMeta = { service, account, kind: 'oauth', created: new Date(now * 1000).toISOString() };
    let meta: AccountMeta;
    try {
      // After a refresh the old refresh token is spent at the provider: putting it back would
      // sign the account out, so the new tokens stay even if accounts.toml cannot follow (its
      // older expiry only makes the next call refresh again).
      meta = await writeAccount(
        store,
        { sets, deletes: inMemory ? [access] : [] },
        () =>
          this.opts.registry.put(fresh, {
            kind: 'oauth',
            token_type: tokenType,
            expires_at: expiresAt,
            issued_at: expiresAt === undefined ? undefined : now,
            ...(scopes ? { scopes } : {}),
            needs_auth: undefined,
            sign_in_here: undefined,
          }),
        { undo: !opts.refreshed, log: this.opts.log },
      );
    } finally {
      for (const [, value] of sets) value.fill(0);
    }
    this.unsaved.delete(`${service}/${account}`); // superseded by what was just saved
    this.hold(meta, inMemory ? res.access_token : undefined);
    this.opts.onStored?.(service, account);
    return { access_token: res.access_token, token_type: meta.token_type ?? 'Bearer', expires_at: meta.expires_at ?? null };
  }

  private async doRefresh(service: string, account: string): Promise<TokenAnswer> {
    const store = this.storeOf('oauth');
    const meta = this.opts.registry.require(service, account);
    if (meta.kind === 'static') {
      throw new SigilError(ErrorCode.BAD_REQUEST, `${service}/${account} holds a static token: there is nothing to refresh`);
    }
    const key = `${service}/${account}`;
    const held = this.unsaved.get(key);
    if (held && held.created === meta.created) {
      // Saved now, the rotated tokens are served if the access token is still good.
      const aged = { ...held.res, ...(typeof held.res.expires_in === 'number' ? { expires_in: held.res.expires_in - (this.nowS() - held.receivedS) } : {}) };
      const issued = await this.storeTokens(service, account, aged, undefined, { refreshed: true });
      if (issued.expires_at === null || issued.expires_at > this.nowS()) return issued;
    }
    const rt = await store.get(credentialKey(service, account, 'refresh_token'));
    if (!rt) {
      // A synced account signed in on another device: its tokens stay there (sign-ins are per device).
      if (this.opts.store.requireStore().device) throw reauth(meta, 'is not signed in on this device', 'sign in on this device');
      await this.markNeedsAuth(meta, 'no refresh token');
      throw reauth(meta, 'has no refresh token');
    }
    const config = await this.opts.providers.configuration(service);
    let res: oidc.TokenEndpointResponse;
    try {
      const { refreshTokenGrant } = await import('openid-client');
      res = await refreshTokenGrant(config, rt.toString('utf8'));
    } catch (err) {
      const code = oauthErrorCode(err);
      const provider = this.opts.providers.provider(service);
      if (code === 'invalid_grant' || (code && provider.quirks.reauthErrors?.includes(code))) {
        await this.markNeedsAuth(meta, code);
        throw reauth(meta, `was signed out by the provider (${code})`);
      }
      throw new SigilError(ErrorCode.PROVIDER_ERROR, `refreshing ${service}/${account} failed: ${describeError(err)}`, { cause: err });
    } finally {
      rt.fill(0);
    }
    try {
      return await this.storeTokens(service, account, res, undefined, { refreshed: true });
    } catch (err) {
      this.unsaved.set(key, { res, receivedS: this.nowS(), created: meta.created });
      throw err;
    }
  }

  /**
   * Revokes the account's grant at the provider when it has a revocation endpoint (RFC 7009):
   * the refresh token, or the access token when there is none (GitHub's non-expiring tokens),
   * so removing an account really signs it out. Best effort: a provider that is down must not
   * stop a person from removing an account. `unsupported`: the provider has no endpoint, so
   * the grant stays until the person revokes it there.
   */
  async revoke(service: string, account: string): Promise<{ revoked: boolean; unsupported?: boolean; error?: string }> {
    const store = this.storeOf('oauth');
    const rt = await store.get(credentialKey(service, account, 'refresh_token'));
    const token = rt ?? (await store.get(credentialKey(service, account, 'access_token')));
    if (!token) return { revoked: false };
    try {
      const config = await this.opts.providers.configuration(service);
      if (!config.serverMetadata().revocation_endpoint) return { revoked: false, unsupported: true };
      const { tokenRevocation } = await import('openid-client');
      await tokenRevocation(config, token.toString('utf8'), { token_type_hint: rt ? 'refresh_token' : 'access_token' });
      return { revoked: true };
    } catch (err) {
      return { revoked: false, error: describeError(err) };
    } finally {
      token.fill(0);
    }
  }

  private async markNeedsAuth(meta: AccountMeta, reason: string): Promise<void> {
    await this.opts.registry.update(meta.service, meta.account, { needs_auth: true });
    this.opts.audit.record({ op: 'needs_auth', target: `${meta.service}/${meta.account}`, result: reason });
    this.opts.onNeedsAuth?.(meta, reason);
  }

  /** Keeps (or, with undefined, drops) the account's in-memory access token. */
  private hold(meta: AccountMeta, token: string | undefined): void {
    const key = `${meta.service}/${meta.account}`;
    if (token === undefined) this.held.delete(key);
    else this.held.set(key, { token, created: meta.created });
  }

  /** The account's in-memory access token, as a copy the caller may wipe; undefined if none. */
  private heldToken(meta: AccountMeta): Buffer | undefined {
    const entry = this.held.get(`${meta.service}/${meta.account}`);
    return entry && entry.created === meta.created ? Buffer.from(entry.token) : undefined;
  }

  /** OAuth tokens are this device's sign-in; static tokens and API keys travel with the vault. */
  private storeOf(kind: AccountMeta['kind']): SecretStore {
    return kind === 'oauth' ? this.opts.store.requireDeviceStore() : this.opts.store.requireStore();
  }

  private issue(meta: AccountMeta, value: Buffer): TokenAnswer {
    this.used(meta.service, meta.account, this.nowS());
    const token = value.toString('utf8');
    value.fill(0);
    return { access_token: token, token_type: meta.token_type ?? 'Bearer', expires_at: meta.expires_at ?? null };
  }
}

function reauth(meta: AccountMeta, why: string, lead = 'run'): SigilError {
  const id = `${meta.service} ${meta.account}`;
  const fix = meta.kind === 'static' ? `sigil token set ${id}` : `sigil accounts authorize ${id}`;
  return new SigilError(ErrorCode.REAUTH_REQUIRED, `${meta.service}/${meta.account} ${why} — ${lead}: ${fix}`);
}

