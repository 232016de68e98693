import { stringify } from 'smol-toml';
import { readTomlFile } from '../config/toml-file.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { authScheme } from '../protocol/token-rules.js';
import { writeFileAtomic } from '../stores/atomic-file.js';

/**
 * accounts.toml: what the agent knows about each account that is not a secret — kind,
 * scopes, token expiry, whether it needs authorizing again. Readable while locked, so
 * `sigil accounts list` and the TUI can show health without the passphrase.
 */
export type AccountKind = 'static' | 'oauth';

export interface AccountMeta {
  service: string;
  account: string;
  kind: AccountKind;
  created: string;
  token_type?: string;
  /** Unix seconds when the stored access token expires; absent = never. */
  expires_at?: number;
  /** Unix seconds when it was issued: its lifetime, expires_at − issued_at, sets when it is refreshed. */
  issued_at?: number;
  scopes?: string[];
  needs_auth?: boolean;
}

function id(service: string, account: string): string {
  return `${service}/${account}`;
}

export class AccountRegistry {
  private readonly accounts = new Map<string, AccountMeta>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static load(path: string): AccountRegistry {
    const reg = new AccountRegistry(path);
    const raw = readTomlFile(path);
    for (const [service, table] of Object.entries(raw)) {
      if (typeof table !== 'object' || table === null) continue;
      for (const [account, meta] of Object.entries(table as Record<string, unknown>)) {
        if (typeof meta !== 'object' || meta === null) continue;
        const m = meta as Record<string, unknown>;
        const entry: AccountMeta = {
          service,
          account,
          kind: m.kind === 'oauth' ? 'oauth' : 'static',
          created: typeof m.created === 'string' ? m.created : new Date(0).toISOString(),
        };
        // A type that is no scheme (written before types were checked) is dropped: Bearer is served.
        const tokenType = typeof m.token_type === 'string' ? authScheme(m.token_type) : null;
        if (tokenType) entry.token_type = tokenType;
        if (typeof m.expires_at === 'number') entry.expires_at = m.expires_at;
        if (typeof m.issued_at === 'number') entry.issued_at = m.issued_at;
        if (Array.isArray(m.scopes)) entry.scopes = m.scopes.filter((s): s is string => typeof s === 'string');
        if (m.needs_auth === true) entry.needs_auth = true;
        reg.accounts.set(id(service, account), entry);
      }
    }
    return reg;
  }

  get size(): number {
    return this.accounts.size;
  }

  get(service: string, account: string): AccountMeta | undefined {
    return this.accounts.get(id(service, account));
  }

  require(service: string, account: string): AccountMeta {
    const a = this.get(service, account);
    if (!a) throw new SigilError(ErrorCode.NOT_FOUND, `no account ${service}/${account} — add it with: sigil accounts add ${service} ${account}`);
    return a;
  }

  list(): AccountMeta[] {
    return [...this.accounts.values()].sort((a, b) => id(a.service, a.account).localeCompare(id(b.service, b.account)));
  }

  async add(meta: AccountMeta): Promise<void> {
    const key = id(meta.service, meta.account);
    if (this.accounts.has(key)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `account ${key} already exists`);
    this.accounts.set(key, meta);
    await this.persist();
  }

  async update(service: string, account: string, patch: Partial<AccountMeta>): Promise<AccountMeta> {
    const current = this.require(service, account);
    const next: AccountMeta = { ...current, ...patch, service, account };
    for (const k of Object.keys(next) as (keyof AccountMeta)[]) if (next[k] === undefined) delete next[k];
    this.accounts.set(id(service, account), next);
    await this.persist();
    return next;
  }

  async remove(service: string, account: string): Promise<boolean> {
    const existed = this.accounts.delete(id(service, account));
    if (existed) await this.persist();
    return existed;
  }

  /** Writes are chained so two updates never race on the rename. */
  private persist(): Promise<void> {
    const run = this.writing.then(() => writeFileAtomic(this.path, Buffer.from(this.render())));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private render(): string {
    const doc: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const a of this.list()) {
      const { service, account, ...rest } = a;
      (doc[service] ??= {})[account] = rest;
    }
    return '# Sigilforge accounts: metadata only, never a secret. Written by sigil-agent.\n' + stringify(doc) + '\n';
  }
}
