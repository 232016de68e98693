/**
 * What the agent answers, op by op (see src/agent/ops/): the shapes every client reads — the
 * CLI, the TUI, sigil-token — written once. Agent handlers return plain maps of these shapes.
 */

/** hello: the version both sides speak, and who answers. */
export interface HelloAnswer {
  version: number;
  /** "sigilforge 1.2.3". */
  agent: string;
  pid: number;
}

export interface AgentStatus {
  locked: boolean;
  /** A vault exists at vault_path (false: nothing to unlock yet — sigil init). */
  vault: boolean;
  /** Absent for a forwarded caller, as is `socket`: local paths stay on this machine. */
  vault_path?: string;
  pid: number;
  version: string;
  socket?: string;
  /** For a caller forwarded over `ssh -R`: the host the agent sees it coming from. */
  forwarded?: string;
  lock_timeout_s: number;
  /** null while locked, or when the agent never locks by itself. */
  locks_in_s: number | null;
  accounts: number;
  secrets: number | null;
  /** Secrets past their expiry, and those expiring within 7 days; null while locked (absent from older agents). */
  secrets_expiring?: { expired: number; soon: number } | null;
  uptime_s: number;
  /** Whether the agent can read peer credentials (SO_PEERCRED): [[policy]] needs them. */
  peer_check: boolean;
  /** Wrong passphrases in a row. */
  failed_unlocks: number;
  /** The vault passphrase is remembered in the OS keyring (the opt-in marker file exists). */
  unlock_at_login: boolean;
  /** This device and its last sync, for a vault that syncs (null: it does not; absent from older agents). */
  sync?: SyncInfo | null;
}

/** A synced vault as this device sees it (times in Unix seconds). */
export interface SyncInfo {
  /** This device's name (null: the vault does not sync). */
  device: string | null;
  /** The git remote (its URL as git has it), null when none. */
  remote: string | null;
  last_sync: number | null;
  last_ok: boolean | null;
  /** What the last sync did ("3 received, 1 sent") or why it failed. */
  last_summary: string | null;
}

export interface DeviceInfo {
  name: string;
  recipient: string;
  /** Unix seconds. */
  added: number | null;
  this_device: boolean;
}

/** sync: what came from the remote and what went to it; names of secrets only, never values. */
export interface SyncAnswer {
  received: number;
  sent: number;
  /** Secrets changed on two devices: the later write is current, the other value is in its history. */
  conflicts: string[];
  accounts_added: string[];
  accounts_removed: string[];
  /** Providers another device has and this one lacked, now appended to its config.toml. */
  providers_added: string[];
  /** The commit the remote and this device are at now. */
  commit: string;
  summary: string;
}

export interface SyncInitAnswer {
  device: string;
  recipient: string;
  remote: string;
  /** OAuth tokens moved into this device's part (sign-ins stay per device). */
  moved_tokens: number;
  pushed: boolean;
  /** Why the first push failed (the vault syncs; sigil sync pushes later). */
  push_error?: string;
}

/** remove_device: what the removed device could read, as candidates for rotation. */
export interface DeviceRemoval {
  name: string;
  could_read: string[];
  pushed: boolean;
  push_error?: string;
}

/** unlock; `remembered` only when `remember` was asked. */
export interface UnlockAnswer {
  was_locked: boolean;
  remembered?: boolean;
  /** Why it could not be remembered (the unlock stands): which part of the keyring failed. */
  remember_error?: string;
}

/** sign_in_here: an account a sync brought whose sign-in is on another device (sign-ins are per device). */
export type AccountStatus = 'valid' | 'expiring' | 'expired' | 'needs_auth' | 'sign_in_here' | 'static';

export interface AccountInfo {
  service: string;
  account: string;
  kind: 'oauth' | 'static' | string;
  status: AccountStatus | string;
  token_type: string | null;
  /** Unix seconds. */
  expires_at: number | null;
  scopes: string[];
  /** Unix seconds (null: unknown). */
  created: number | null;
  /** Unix seconds, since the agent started. */
  last_used: number | null;
}

/** remove_account. revocation: what happened to the grant at the provider ("none": nothing
 *  to revoke — a static token, or revoke: false). */
export interface AccountRemoval {
  service: string;
  account: string;
  removed_credentials: number;
  revoked: boolean;
  revocation: 'revoked' | 'unsupported' | 'failed' | 'none';
  /** Why the revocation failed (the account is removed all the same). */
  error?: string;
  /** Where to revoke the grant by hand, when known. */
  revoke_page?: string;
}

export interface ProviderInfo {
  name: string;
  configured: boolean;
  builtin: boolean;
  /** Whether the vault holds a client secret for it; null while locked. */
  client_secret_set: boolean | null;
  scopes?: string[];
  /** Found by issuer discovery … */
  discovery?: boolean;
  /** … and already discovered (false: flows and scopes not known yet). */
  discovered?: boolean;
  /** Offers the device flow; null while undiscovered. */
  device?: boolean | null;
  problem?: string;
}

export type FlowKind = 'auth_code' | 'device';

export interface FlowStart {
  flow_id: string;
  kind: FlowKind;
  authorization_url?: string;
  user_code?: string;
  verification_uri?: string;
  verification_uri_complete?: string;
  expires_in?: number;
  interval?: number;
  notice?: string;
}

export interface FlowDone {
  service: string;
  account: string;
  scopes: string[];
  expires_at: number | null;
}

export interface AuditEntry {
  /** Unix seconds, milliseconds as the fraction. */
  time?: number;
  op?: string;
  target?: string;
  result?: string;
  client?: string;
  pid?: number;
  uid?: number;
  exe?: string;
  /** The host of a caller forwarded over `ssh -R`. */
  forwarded?: string;
  /** The caller's chain of programs, peer first (Sigilforge's clients by name): who ran the client. */
  chain?: string[];
}

/** audit_tail: `cursor` is where newer lines begin (`after`), `start` where these began (`before`; 0: the log's start). */
export interface AuditPage {
  entries: AuditEntry[];
  cursor: number;
  start: number;
}

/** Lines one audit_tail answers at most (and fewer when they would not fit a frame): more come page by page. */
export const AUDIT_MAX_LIMIT = 10_000;

/** get_token. Handed out as is and never changed afterwards (the agent may cache it). */
export type TokenAnswer = {
  readonly access_token: string;
  readonly token_type: string;
  /** Unix seconds; null for tokens that do not expire (GitHub PATs, API keys). */
  readonly expires_at: number | null;
};

/** add_provider: the [providers.NAME] section it appended to config.toml. */
export interface AddedProvider {
  name: string;
}

/** `secret_history`: the kept versions of a secret, newest first; never their values. */
export interface SecretHistory {
  name: string;
  /** When the current value was written, when known (Unix seconds). */
  current_updated?: number;
  versions: { version: number; replaced_at: number | null }[];
}

/** `rollback_secret`: `version` is current again; the value it replaced was kept as `saved_as`. */
export interface SecretRollback {
  name: string;
  version: number;
  saved_as?: number;
}

/** `wait_confirm`: a question a `confirm = true` rule puts to the person — never a value. */
export interface ConfirmPrompt {
  confirm_id: string;
  /** "github/work", "secret://db/prod". */
  target: string;
  /** The op asked for: get_token, get_secret or resolve. */
  op: string;
  client: string | null;
  pid: number | null;
  exe: string | null;
  /** The host a forwarded caller is on (it came over `ssh -R`); absent for a local caller. */
  forwarded?: string;
  /**
   * The program asking, as [[policy]] judges it: for Sigilforge's own clients the script or
   * executable that ran them ("/usr/bin/git"); null when the agent cannot tell.
   */
  program: string | null;
  /** Sigilforge's clients it asks through, peer first (["git-credential-sigil"]). */
  via: string[];
  /** The chain of programs, peer first, as the audit log keeps it. */
  chain: string[];
  /** How long the agent waits for the answer. */
  timeout_s: number;
}
