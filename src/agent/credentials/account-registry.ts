import { stringify } from 'smol-toml';
import { readTomlFile } from '../../config/toml-file.js';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { authScheme } from '../../protocol/token-rules.js';
import { writeFileAtomic, type FileOps } from '../../stores/atomic-file.js';

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
  /**
   * An OAuth account that came with a sync and was never signed in on this device (its tokens
   * stay on the device that obtained them): it needs a sign-in here. Cleared by one.
   */
  sign_in_here?: boolean;
  /** Unix seconds of the last token handed out, as last written (at most once a minute: TokenService is exact). */
  last_used?: number;
}

/** An account's key in the registry (and in the token service's maps): "service/account". */
export function accountKey(service: string, account: string): string {
  return `${service}/${account}`;
}
const id = accountKey;

export interface RegistryOptions {
  /** The file operations of its writes; tests fail them on cue (ENOSPC, EIO). */
  fileOps?: FileOps;
}

/**
 * The accounts, as accounts.toml holds them: a change reaches memory only once the file is
 * written, so a failed write (a full disk) leaves both as they were.
 */
export class AccountRegistry {
  private accounts = new Map<string, AccountMeta>();
  private writing: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly fileOps?: FileOps,
  ) {}

  static load(path: string, opts: RegistryOptions = {}): AccountRegistry {
    const reg = new AccountRegistry(path, opts.fileOps);
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
        if (m.sign_in_here === true) entry.sign_in_here = true;
        if (typeof m.last_used === 'number') entry.last_used = m.last_used;
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

  /** get() by accountKey(service, account), for a caller that holds the key already. */
  byKey(key: string): AccountMeta | undefined {
    return this.accounts.get(key);
  }

  require(service: string, account: string): AccountMeta {
    const a = this.get(service, account);
    if (!a) throw new SigilError(ErrorCode.NOT_FOUND, `no account ${service}/${account} — add it with: sigil accounts add ${service} ${account}`);
    return a;
  }

  list(): AccountMeta[] {
    return sorted(this.accounts);
  }

  async add(meta: AccountMeta): Promise<void> {
    const key = id(meta.service, meta.account);
    await this.commit((next) => {
      if (next.has(key)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `account ${key} already exists`);
      next.set(key, meta);
    });
  }

  async update(service: string, account: string, patch: Partial<AccountMeta>): Promise<AccountMeta> {
    return this.commit((next) => {
      const current = next.get(id(service, account)) ?? this.require(service, account);
      return set(next, merge(current, patch));
    });
  }

  /** Adds the account, or updates it with `patch` when it exists: one write either way. */
  async put(meta: AccountMeta, patch: Partial<AccountMeta> = {}): Promise<AccountMeta> {
    return this.commit((next) => set(next, merge(next.get(id(meta.service, meta.account)) ?? meta, patch)));
  }

  /**
   * Records when accounts were last used, in one write: only later times than those held, and
   * accounts removed meanwhile are skipped (a use never brings one back). No write when nothing changes.
   */
  async recordUse(uses: ReadonlyArray<{ service: string; account: string; at: number }>): Promise<void> {
    const later = (accounts: Map<string, AccountMeta>) =>
      uses.filter((u) => {
        const current = accounts.get(id(u.service, u.account));
        return current !== undefined && (current.last_used ?? -Infinity) < u.at;
      });
    if (later(this.accounts).length === 0) return;
    await this.commit((next) => {
      for (const u of later(next)) set(next, { ...next.get(id(u.service, u.account))!, last_used: u.at });
    });
  }

  async remove(service: string, account: string): Promise<boolean> {
    if (!this.accounts.has(id(service, account))) return false;
    return this.commit((next) => next.delete(id(service, account)));
  }

  /**
   * Makes a change durable, then visible: `change` edits a copy of the accounts, the copy is
   * written, and only then replaces them. Changes run one after another (never two renames
   * racing, each on top of the last); one that throws, or whose write fails, changes nothing.
   */
  private commit<T>(change: (next: Map<string, AccountMeta>) => T): Promise<T> {
    const run = this.writing.then(async () => {
      const next = new Map(this.accounts);
      const result = change(next);
      try {
        await writeFileAtomic(this.path, Buffer.from(render(next)), 0o600, { reserve: true, ops: this.fileOps });
      } catch (err) {
        // Node's fs messages name the errno and the path, never content (and this holds no secret).
        throw new SigilError(ErrorCode.INTERNAL, `could not write ${this.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      this.accounts = next;
      return result;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }
}

/** `current` with `patch` over it; members patched to undefined are dropped. */
function merge(current: AccountMeta, patch: Partial<AccountMeta>): AccountMeta {
  const meta: AccountMeta = { ...current, ...patch, service: current.service, account: current.account };
  for (const k of Object.keys(meta) as (keyof AccountMeta)[]) if (meta[k] === undefined) delete meta[k];
  return meta;
}

function set(accounts: Map<string, AccountMeta>, meta: AccountMeta): AccountMeta {
  accounts.set(id(meta.service, meta.account), meta);
  return meta;
}

function sorted(accounts: Map<string, AccountMeta>): AccountMeta[] {
  return [...accounts.values()].sort((a, b) => id(a.service, a.account).localeCompare(id(b.service, b.account)));
}

function render(accounts: Map<string, AccountMeta>): string {
  const doc: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const a of sorted(accounts)) {
    const { service, account, ...rest } = a;
    (doc[service] ??= {})[account] = rest;
  }
  return '# Sigilforge accounts: metadata only, never a secret. Written by sigil-agent.\n' + stringify(doc) + '\n';
}
