import type { Args } from './messages.js';
import { AGE_IDENTITY_SECRET } from './names.js';
import { parseRef, shownRef } from './refs.js';
import type {
  AccountInfo,
  AccountRemoval,
  AddedProvider,
  AgentStatus,
  AuditPage,
  DeviceInfo,
  DeviceRemoval,
  SyncAnswer,
  SyncInfo,
  SyncInitAnswer,
  ConfirmPrompt,
  FlowDone,
  FlowKind,
  FlowStart,
  HelloAnswer,
  ProviderInfo,
  SecretHistory,
  SecretRollback,
  TokenAnswer,
  UnlockAnswer,
} from './results.js';

/**
 * Every operation of the protocol, once (as rbw's protocol.rs lists its requests): what it
 * needs, what it reveals, what its audit line and the [[policy]] rules name, whether a
 * forwarded caller may use it, and (in OpSignatures) its arguments and result. The agent's op
 * table, its policy, the client's typed calls and the tests of sigil-protocol(7) derive from
 * it, so an op is never listed anywhere else. Pure: no sockets, nothing from the agent.
 */

/** What a request touches, as the [[policy]] rules name it. */
export type PolicyTarget =
  /** `credential`: what resolve asks of the account, when not its access token (refresh_token…). */
  | { kind: 'account'; name: string; credential?: string }
  | { kind: 'secret'; name: string };

/**
 * Whether a caller whose connection came over `ssh -R` may use the op (the dispatcher asks
 * the policy, policy.ts): `yes`, `opened` (only for the accounts and secrets a [[policy]] rule
 * opens with `forward`), `no`.
 */
export type ForwardedUse = 'yes' | 'opened' | 'no';

export interface OpFacts {
  /** Needs the unlocked vault: LOCKED otherwise, and use restarts the idle countdown. */
  readonly unlocked: boolean;
  /** Hands a value out: the ops `confirm = true` asks about (as ssh-add -c asks per signature). */
  readonly reveals: boolean;
  /** Writes an audit line (time, peer, op, target, result). */
  readonly audit: boolean;
  /** The audit target: names only, never a value. */
  readonly target?: (args: Args) => string | undefined;
  /** The account or secret [[policy]] checks (undefined: arguments the handler will reject). */
  readonly policy?: (args: Args) => PolicyTarget | undefined;
  readonly forwarded: ForwardedUse;
  /**
   * The arguments the client library's method for the op takes by position, in order
   * (`getToken(service, account)`); the others follow in one object. Required ones only.
   */
  readonly positional?: readonly string[];
  /** Answers only when something else happens (a sign-in, a question): clients wait for it without a timeout. */
  readonly waits?: boolean;
}

/** A secret-bearing argument: a str or bin on the wire. */
type Bytes = string | Uint8Array;
interface AccountArgs {
  service: string;
  account: string;
}
type NoArgs = Record<string, never>;

/** Each op's arguments and result, as clients send and read them. */
export interface OpSignatures {
  hello: { args: { client?: string; versions?: number[] }; result: HelloAnswer };
  status: { args: NoArgs; result: AgentStatus };
  lock: { args: NoArgs; result: { was_locked: boolean } };
  unlock: { args: { passphrase?: Bytes; remember?: boolean }; result: UnlockAnswer };
  forget_passphrase: { args: NoArgs; result: { forgotten: boolean } };
  passwd: { args: { passphrase: Bytes; new_passphrase: Bytes; work_factor?: number }; result: { changed: true } };
  rekey: { args: { passphrase: Bytes }; result: { recipient: string } };
  audit_tail: { args: { limit?: number; after?: number; before?: number }; result: AuditPage };
  get_token: { args: AccountArgs; result: TokenAnswer };
  refresh_token: { args: AccountArgs; result: { service: string; account: string; expires_at: number | null } };
  set_token: {
    args: AccountArgs & { access_token: Bytes; refresh_token?: Bytes; token_type?: string; expires_at?: number; expires_in?: number };
    result: { service: string; account: string; kind: string; expires_at: number | null };
  };
  list_accounts: { args: { service?: string }; result: { accounts: AccountInfo[] } };
  get_account: { args: AccountArgs; result: AccountInfo };
  add_account: { args: AccountArgs & { kind?: string }; result: AccountInfo };
  remove_account: { args: AccountArgs & { revoke?: boolean }; result: AccountRemoval };
  start_flow: { args: AccountArgs & { kind?: FlowKind; scopes?: string[] }; result: FlowStart };
  wait_flow: { args: { flow_id: string }; result: FlowDone };
  cancel_flow: { args: { flow_id: string }; result: { cancelled: boolean } };
  get_secret: { args: { name: string }; result: { name: string; value: Bytes } };
  set_secret: { args: { name: string; value: Bytes; overwrite?: boolean; expires_at?: number }; result: { name: string; created: boolean } };
  delete_secret: { args: { name: string }; result: { name: string; deleted: true } };
  /**
   * `expires_at`: name → Unix seconds, for the listed secrets that have an expiry (past ones too).
   * `versions`: name → previous versions kept, for the listed secrets that have any.
   */
  list_secrets: { args: { prefix?: string }; result: { names: string[]; expires_at?: Record<string, number>; versions?: Record<string, number> } };
  secret_history: { args: { name: string }; result: SecretHistory };
  rollback_secret: { args: { name: string; version: number }; result: SecretRollback };
  resolve: { args: { ref: string }; result: { ref: string; value: Bytes; expires_at?: number | null } };
  list_providers: { args: NoArgs; result: { providers: ProviderInfo[] } };
  add_provider: {
    args: {
      name: string;
      client_id: string;
      issuer?: string;
      authorization_endpoint?: string;
      token_endpoint?: string;
      device_authorization_endpoint?: string;
      revocation_endpoint?: string;
      scopes?: string[];
    };
    result: AddedProvider;
  };
  set_client_secret: { args: { service: string; client_secret?: Bytes; remove?: boolean }; result: { service: string; removed?: boolean } };
  sync_init: { args: { remote: string; name?: string }; result: SyncInitAnswer };
  sync: { args: NoArgs; result: SyncAnswer };
  list_devices: { args: NoArgs; result: SyncInfo & { devices: DeviceInfo[] } };
  add_device: { args: { name: string; recipient: string }; result: { name: string; recipient: string; pushed: boolean; push_error?: string } };
  remove_device: { args: { name: string }; result: DeviceRemoval };
  wait_confirm: { args: NoArgs; result: ConfirmPrompt };
  answer_confirm: { args: { confirm_id: string; allow: boolean }; result: { answered: true } };
}

export type Op = keyof OpSignatures;
export type OpArgs<O extends Op> = OpSignatures[O]['args'];
export type OpAnswer<O extends Op> = OpSignatures[O]['result'];

/** Audit target of everything that reads or writes the passphrase remembered in the OS keyring. */
export const KEYRING_TARGET = 'keyring';

/** unlock without a passphrase: the one remembered in the OS keyring. */
export function unlocksFromKeyring(args: Args): boolean {
  return args.passphrase === undefined || args.passphrase === null;
}

/** A string argument for an audit line, cut short: a name, never a value. */
function str(args: Args, name: string): string | undefined {
  const v = args[name];
  return typeof v === 'string' ? v.slice(0, 200) : undefined;
}

function accountTarget(args: Args): string | undefined {
  const s = str(args, 'service');
  const a = str(args, 'account');
  return s && a ? `${s}/${a}` : s;
}

function secretTarget(args: Args): string | undefined {
  const n = str(args, 'name');
  return n === undefined ? undefined : `secret://${n}`;
}

/** `secret://name@3`: the version a rollback goes back to, in the audit line. */
function versionTarget(args: Args): string | undefined {
  const n = str(args, 'name');
  const v = args.version;
  if (n === undefined) return undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) ? `secret://${n}@${v}` : `secret://${n}`;
}

function policyAccount(args: Args): PolicyTarget | undefined {
  const { service, account } = args;
  return typeof service === 'string' && typeof account === 'string' ? { kind: 'account', name: `${service}/${account}` } : undefined;
}

function policySecret(args: Args): PolicyTarget | undefined {
  return typeof args.name === 'string' ? { kind: 'secret', name: args.name } : undefined;
}

function refTarget(args: Args): string | undefined {
  const ref = str(args, 'ref');
  return ref === undefined ? undefined : shownRef(ref);
}

function policyRef(args: Args): PolicyTarget | undefined {
  if (typeof args.ref !== 'string') return undefined;
  let ref;
  try {
    ref = parseRef(args.ref);
  } catch {
    return undefined; // the handler answers BAD_REQUEST naming the wrong part
  }
  if (ref.scheme === 'secret') return { kind: 'secret', name: ref.name };
  // ref+sops:// opens a file with the device's age identity: the rules on that secret govern it.
  // Other vals expressions name no account or secret (so a forwarded caller is refused them).
  if (ref.scheme === 'vals') return ref.backend === 'sops' ? { kind: 'secret', name: AGE_IDENTITY_SECRET } : undefined;
  const name = `${ref.service}/${ref.account}`;
  return ref.credential === 'access_token' ? { kind: 'account', name } : { kind: 'account', name, credential: ref.credential };
}

const ACCOUNT = ['service', 'account'] as const;
const plain = { unlocked: false, reveals: false, audit: false, forwarded: 'no' } as const;
/** Changes or reads the vault: unlocked and audited. */
const vault = { unlocked: true, reveals: false, audit: true, forwarded: 'no' } as const;
const accountVault = { ...vault, target: accountTarget, policy: policyAccount, positional: ACCOUNT } as const;
const secretVault = { ...vault, target: secretTarget, policy: policySecret, positional: ['name'] } as const;

export const OP_CATALOG = {
  // Session.
  hello: { ...plain, forwarded: 'yes' },
  // Never touches the idle timer: a status bar polling it must not keep the agent unlocked.
  status: { ...plain, forwarded: 'yes' },
  lock: { ...plain, audit: true, forwarded: 'yes' },
  unlock: { ...plain, audit: true, target: (args) => (unlocksFromKeyring(args) ? KEYRING_TARGET : undefined) },
  // Unlock at login (sigil unlock --forget; remembering is unlock's `remember`).
  forget_passphrase: { ...plain, audit: true, target: () => KEYRING_TARGET },
  // sigil passwd: the agent rewrites identity.age, so the change is throttled and audited.
  passwd: { ...plain, audit: true, positional: ['passphrase', 'new_passphrase'] },
  // sigil rekey: a new vault identity, checked against the passphrase (throttled like passwd).
  rekey: { ...vault, positional: ['passphrase'] },
  audit_tail: plain,

  // Tokens and accounts. Account metadata works while locked, so health shows without the passphrase.
  get_token: { ...accountVault, reveals: true, forwarded: 'opened' },
  refresh_token: accountVault,
  set_token: accountVault,
  list_accounts: plain,
  get_account: { ...plain, positional: ACCOUNT },
  add_account: { ...plain, audit: true, target: accountTarget, positional: ACCOUNT },
  // Deletes secrets, so it needs the unlocked store: a locked agent must not forget tokens.
  remove_account: accountVault,

  // Sign-in flows need the unlocked store: their result is tokens to keep.
  start_flow: { ...vault, target: accountTarget, positional: ACCOUNT },
  wait_flow: { ...vault, audit: false, positional: ['flow_id'], waits: true }, // the flow's own completion line says how it ended
  cancel_flow: { ...plain, audit: true, target: (args) => (typeof args.flow_id === 'string' ? `flow:${args.flow_id.slice(0, 40)}` : undefined), positional: ['flow_id'] },

  // Secrets.
  get_secret: { ...secretVault, reveals: true, forwarded: 'opened' },
  set_secret: { ...secretVault, positional: ['name', 'value'] },
  delete_secret: secretVault,
  list_secrets: { ...vault, target: (args) => str(args, 'prefix') },
  // Secret history (sigil secret history / rollback).
  secret_history: secretVault,
  rollback_secret: { ...secretVault, target: versionTarget, positional: ['name', 'version'] },
  // A vals expression's ?query may hold credentials (vault's secret_id): the audit line leaves it out.
  resolve: { ...vault, reveals: true, target: (args) => refTarget(args), policy: policyRef, forwarded: 'opened', positional: ['ref'] },

  // Providers (sigil providers, the TUI's custom issuer).
  list_providers: plain,
  // config.toml holds no secret; a client secret goes in with set_client_secret.
  add_provider: { ...plain, audit: true, target: (args) => str(args, 'name'), positional: ['name', 'client_id'] },
  // The audit line tells a removal from a change.
  set_client_secret: { ...vault, target: (args) => (args.remove === true ? `${str(args, 'service')} (remove)` : str(args, 'service')), positional: ['service'] },

  // Sync and devices (sigil sync, sigil device). Sync works while locked (a fast-forward only:
  // merging needs the vault's key); the sync service writes one line per sync with its counts.
  sync_init: { ...vault, target: (args) => str(args, 'remote') },
  sync: plain,
  list_devices: plain,
  add_device: { ...vault, target: (args) => str(args, 'name') },
  remove_device: { ...vault, target: (args) => str(args, 'name') },

  // `confirm = true` policy: the TUI asks the person (sigil tui). Not audited here: the broker
  // writes one line per question with its outcome.
  wait_confirm: { ...plain, waits: true },
  answer_confirm: { ...plain, positional: ['confirm_id', 'allow'] },
} as const satisfies Record<Op, OpFacts>;

/** Every op, in the catalogue's order. */
export const OPS = Object.keys(OP_CATALOG) as Op[];

/** The facts of an op a client named (any string: `__proto__` is no op). */
export function opFacts(op: string): OpFacts | undefined {
  return Object.hasOwn(OP_CATALOG, op) ? OP_CATALOG[op as Op] : undefined;
}

/** The account or secret an op touches, or undefined (not a policed op, or arguments the handler will reject). */
export function policyTarget(op: string, args: Args): PolicyTarget | undefined {
  return opFacts(op)?.policy?.(args);
}
