import { homedir } from 'node:os';
import { dirname, extname, resolve } from 'node:path';
import { AGE_IDENTITY_SECRET, isSecretName } from '../protocol/names.js';
import type { SopsFileConfig } from '../stores/sops/sops-store.js';
import { parseDuration } from '../util/duration.js';
import { configError, readTomlFile } from './toml-file.js';

/** config.toml, validated. Unknown sections are kept for later readers (providers). */
export interface SigilConfig {
  agent: {
    /** Seconds of idle time before the agent locks itself; 0 = never. */
    lockTimeoutS: number;
    /** Run (by sh -c) when an account needs authorizing again, as pizauth's auth_notify_cmd. */
    notifyCmd?: string;
    /** Refresh OAuth tokens this many seconds before they expire, in the background; 0 = only on use. */
    refreshAheadS: number;
  };
  /** `[tokens]`; absent when config.toml has no such key (then access tokens are stored, as before). */
  tokens?: {
    /** false keeps OAuth access tokens in memory only (refresh tokens, and static tokens, are always stored). */
    persistAccessTokens: boolean;
  };
  storage: {
    primary: 'vault' | 'keyring';
    /** `[[storage.sops]]`: SOPS files whose values answer under a name prefix (src/stores/sops/); absent when none. */
    sops?: SopsFileConfig[];
  };
  providers: Record<string, Record<string, unknown>>;
  /** [git]: which account git-credential-sigil answers for a host (see src/cli/git-credential.ts); absent when empty. */
  git?: Record<string, GitMapping>;
  /** `[secrets]`; absent when config.toml has no such key (then the defaults apply). */
  secrets?: {
    /** Previous versions kept per secret (src/agent/secrets/secret-history.ts); 0 = none. Default 5. */
    history: number;
  };
  /** `[[policy]]`: accounts and secrets only listed executables may use (src/agent/policy.ts); absent when none. */
  policy?: PolicyRule[];
  /** `[sync]`; absent when config.toml has no such key (then sync is only by hand). */
  sync?: {
    /** `auto`: sync this often while unlocked, and soon after each write; 0 = by hand only. */
    autoS: number;
  };
}

/**
 * One `[[policy]]` entry: exactly one of `account` ("service/account") or `secret` (a name); a
 * trailing `*` makes either a prefix. `allow` lists the programs that may ask: absolute paths
 * (or `~/…`) of executables or scripts, matched against the caller's program (see
 * agent/policy.ts); `confirm` asks the person before each use; `forward` opens the target to
 * callers on other machines (over `ssh -R`). At least one of the three.
 */
export interface PolicyRule {
  account?: string;
  secret?: string;
  /** Absent: any program (the rule only asks for confirmation). */
  allow?: string[];
  /** Absent: ask for local uses no, for forwarded uses yes. */
  confirm?: boolean;
  /** Forwarded callers from these hosts (as given to ssh; a trailing `*` makes a prefix) may use it; true: from any host. */
  forward?: true | string[];
}

/** `[secrets] history`'s default; the bound keeps the store from growing without limit. */
export const DEFAULT_SECRET_HISTORY = 5;
const MAX_SECRET_HISTORY = 1000;

/** One [git] entry: `"host[:port][/path]" = "service/account"`, or a table that also names the username. */
export interface GitMapping {
  service: string;
  account: string;
  username?: string;
}

/** DESIGN.md's default; long enough for a working session, short enough for a walk away. */
export const DEFAULT_LOCK_TIMEOUT_S = 15 * 60;

export function loadConfig(path: string): SigilConfig {
  const raw = readTomlFile(path);
  const agent = table(raw, 'agent', path);
  const storage = table(raw, 'storage', path);
  const secretsTable = table(raw, 'secrets', path);
  const tokensTable = table(raw, 'tokens', path);
  const syncTable = table(raw, 'sync', path);

  let lockTimeoutS = DEFAULT_LOCK_TIMEOUT_S;
  if (agent.lock_timeout !== undefined) {
    const v = agent.lock_timeout;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) lockTimeoutS = v;
    else if (typeof v === 'string') {
      try {
        lockTimeoutS = parseDuration(v);
      } catch {
        throw configError(path, 'agent.lock_timeout', 'a duration such as "15m", "1h" or "0"');
      }
    } else throw configError(path, 'agent.lock_timeout', 'a duration such as "15m", "1h" or "0"');
  }

  const notifyCmd = agent.notify_cmd;
  if (notifyCmd !== undefined && typeof notifyCmd !== 'string') throw configError(path, 'agent.notify_cmd', 'a command string');

  let refreshAheadS = 0;
  if (agent.refresh_ahead !== undefined) {
    const v = agent.refresh_ahead;
    try {
      if (typeof v !== 'string') throw new Error();
      refreshAheadS = parseDuration(v);
    } catch {
      throw configError(path, 'agent.refresh_ahead', 'a duration such as "10m" (or "0" to refresh only on use)');
    }
  }

  const persistAccessTokens = tokensTable.persist_access_tokens;
  if (persistAccessTokens !== undefined && typeof persistAccessTokens !== 'boolean') throw configError(path, 'tokens.persist_access_tokens', 'true (store access tokens in the vault) or false (keep them in memory only)');

  const primary = storage.primary ?? 'vault';
  if (primary !== 'vault' && primary !== 'keyring') throw configError(path, 'storage.primary', '"vault" or "keyring"');

  let secrets: SigilConfig['secrets'];
  if (secretsTable.history !== undefined) {
    const v = secretsTable.history;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SECRET_HISTORY) {
      throw configError(path, 'secrets.history', `a whole number of versions from 0 (keep none) to ${MAX_SECRET_HISTORY}`);
    }
    secrets = { history: v };
  }

  const providers = table(raw, 'providers', path) as Record<string, Record<string, unknown>>;
  for (const [name, p] of Object.entries(providers)) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw configError(path, `providers.${name}`, 'a table');
  }
  const git: Record<string, GitMapping> = {};
  for (const [host, v] of Object.entries(table(raw, 'git', path))) {
    const expected = '"service/account" or a table { account = "service/account", username = "…" }';
    const spec = typeof v === 'string' ? v : typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).account : undefined;
    const username = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).username : undefined;
    const m = typeof spec === 'string' ? /^([a-z0-9][a-z0-9_-]{0,63})\/([A-Za-z0-9][A-Za-z0-9._@+-]{0,127})$/.exec(spec) : null;
    if (!m || (username !== undefined && (typeof username !== 'string' || username === '' || /[\n\0]/.test(username)))) {
      // `github.com = …` unquoted is a table {com = …} under "github": say how to write it.
      const unquoted = typeof v === 'object' && v !== null && spec === undefined ? ' (quote host names with dots: "github.com" = "github/work")' : '';
      throw configError(path, `git.${host}`, expected + unquoted);
    }
    git[host.toLowerCase()] = { service: m[1]!, account: m[2]!, ...(typeof username === 'string' ? { username } : {}) };
  }
  let sync: SigilConfig['sync'];
  if (syncTable.auto !== undefined) {
    const v = syncTable.auto;
    let autoS = NaN;
    try {
      if (typeof v === 'string') autoS = parseDuration(v);
    } catch {
      /* named below */
    }
    // Below a minute a sync would run while the last one is still talking to the remote.
    if (!(autoS === 0 || autoS >= 60)) throw configError(path, 'sync.auto', 'a duration of at least a minute, such as "5m" (or "0": sync by hand only)');
    sync = { autoS };
  }
  const policy = policyRules(raw.policy, path);
  const sops = sopsFiles(storage.sops, path);
  return {
    agent: { lockTimeoutS, refreshAheadS, ...(notifyCmd ? { notifyCmd } : {}) },
    ...(persistAccessTokens !== undefined ? { tokens: { persistAccessTokens } } : {}),
    storage: { primary, ...(sops.length ? { sops } : {}) },
    providers,
    ...(Object.keys(git).length ? { git } : {}),
    ...(secrets ? { secrets } : {}),
    ...(policy.length ? { policy } : {}),
    ...(sync ? { sync } : {}),
  };
}

/** A host as ssh(1) was given it (name, address or ~/.ssh/config alias), or a prefix ending in `*`. */
const FORWARD_HOST = /^(\*|[A-Za-z0-9_][A-Za-z0-9._:%-]{0,252}\*?)$/;

/** `[[policy]]`: each entry checked, and named `policy[N]` (0-based, in file order) when wrong. */
function policyRules(v: unknown, path: string): PolicyRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw configError(path, 'policy', 'an array of tables, written [[policy]]');
  return v.map((entry: unknown, i) => {
    const key = `policy[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw configError(path, key, 'a table, written [[policy]]');
    const e = entry as Record<string, unknown>;
    if ((e.account === undefined) === (e.secret === undefined)) {
      throw configError(path, key, 'a table with exactly one of account = "service/account" or secret = "name" (a trailing * matches a prefix)');
    }
    const rule: PolicyRule = {};
    if (e.account !== undefined) {
      const a = e.account;
      if (typeof a !== 'string' || !/^(\*|[a-z0-9][a-z0-9_-]{0,63}\/(\*|[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\*?))$/.test(a)) {
        throw configError(path, `${key}.account`, '"service/account" (or a prefix ending in *, such as "github/*")');
      }
      rule.account = a;
    } else {
      const s = e.secret;
      if (typeof s !== 'string' || s === '' || (s.includes('*') && s.indexOf('*') !== s.length - 1) || /[\x00-\x1f\x7f]/.test(s)) {
        throw configError(path, `${key}.secret`, 'a secret name (or a prefix ending in *, such as "db/prod/*")');
      }
      rule.secret = s;
    }
    if (e.confirm !== undefined) {
      if (typeof e.confirm !== 'boolean') throw configError(path, `${key}.confirm`, 'true or false');
      rule.confirm = e.confirm;
    }
    const forward = e.forward;
    if (forward === true) rule.forward = true;
    else if (Array.isArray(forward) && forward.length > 0 && forward.every((h) => typeof h === 'string' && FORWARD_HOST.test(h))) rule.forward = forward.map((h) => h.toLowerCase());
    else if (forward !== undefined && forward !== false) {
      throw configError(path, `${key}.forward`, 'true (callers over ssh from any host) or a non-empty list of hosts as given to ssh, such as ["build1", "ci-*"]');
    }
    const allow = e.allow;
    if (allow === undefined) {
      if (!rule.confirm && !rule.forward) throw configError(path, key, 'allow = ["/path/to/program", …], confirm = true, forward = true, or more of them');
      return rule;
    }
    // Absolute, or under the home directory (`~/bin/deploy.sh`, expanded by the agent).
    if (!Array.isArray(allow) || allow.length === 0 || !allow.every((p) => typeof p === 'string' && (p.startsWith('/') || p.startsWith('~/')) && !p.includes('\0'))) {
      throw configError(path, `${key}.allow`, 'a non-empty list of absolute paths of programs or scripts (or ~/…), such as ["/usr/bin/git", "~/bin/deploy.sh"]');
    }
    rule.allow = allow as string[];
    return rule;
  });
}

/**
 * `[[storage.sops]]`: `path` (`~/` is the home directory; relative to config.toml's directory),
 * `prefix` (a name prefix ending in "/"), optional `format` (else the extension says). No
 * prefix may contain another (a name would have two homes), nor the age identity (it opens them).
 */
function sopsFiles(v: unknown, path: string): SopsFileConfig[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw configError(path, 'storage.sops', 'an array of tables, written [[storage.sops]]');
  const files = v.map((entry: unknown, i): SopsFileConfig => {
    const key = `storage.sops[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw configError(path, key, 'a table, written [[storage.sops]]');
    const e = entry as Record<string, unknown>;
    if (typeof e.path !== 'string' || e.path === '' || e.path.includes('\0')) throw configError(path, `${key}.path`, 'the path of a SOPS-encrypted file, such as "~/infra/secrets.enc.yaml"');
    const file = e.path.startsWith('~/') ? resolve(process.env.HOME || homedir(), e.path.slice(2)) : resolve(dirname(path), e.path);
    const prefix = e.prefix;
    if (typeof prefix !== 'string' || !prefix.endsWith('/') || !isSecretName(prefix.slice(0, -1))) {
      throw configError(path, `${key}.prefix`, 'a secret-name prefix ending in "/", such as "infra/"');
    }
    if (AGE_IDENTITY_SECRET.startsWith(prefix)) throw configError(path, `${key}.prefix`, `a prefix that leaves ${AGE_IDENTITY_SECRET} in the vault (it opens the SOPS files)`);
    const ext = extname(file).toLowerCase();
    const format = e.format ?? (ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined);
    if (format !== 'yaml' && format !== 'json') throw configError(path, `${key}.format`, '"yaml" or "json" (the file name does not end in .yaml, .yml or .json)');
    return { path: file, prefix, format };
  });
  files.forEach((f, i) => {
    const j = files.findIndex((g, k) => k !== i && f.prefix.startsWith(g.prefix));
    if (j !== -1) throw configError(path, `storage.sops[${i}].prefix`, `a prefix no other entry's contains (storage.sops[${j}] has "${files[j]!.prefix}")`);
  });
  return files;
}

function table(raw: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const v = raw[key];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw configError(path, key, 'a table');
  return v as Record<string, unknown>;
}
