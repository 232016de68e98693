import { DEFAULT_SECRET_HISTORY, type SigilConfig } from '../config/config.js';
import type { Fetch } from '../oauth/oauth-errors.js';
import type { SecretStore } from '../stores/secret-store.js';
import { changePassphrase, rekeyVault, verifyPassphrase, VaultStore, type VaultOptions } from '../stores/vault-store.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { VaultLease } from '../stores/vault-lease.js';
import type { SigilPaths } from '../util/paths.js';
import type { AccountRegistry } from './credentials/account-registry.js';
import type { AuditLog } from './audit-log.js';
import { systemClock, type Clock } from './clock.js';
import { ConfirmBroker } from './confirm-broker.js';
import { Credentials } from './credentials/credentials.js';
import { FlowManager } from './flows/flow-manager.js';
import { storeOpener } from './lock/open-store.js';
import { Policy } from './policy.js';
import { withSopsFiles } from '../stores/sops/sops-router.js';
import { Secrets } from './secrets/secrets.js';
import { VaultLock } from './lock/vault-lock.js';
import { SyncService } from './sync/sync-service.js';
import { AutoSync } from './sync/auto-sync.js';

export interface AgentStateOptions {
  paths: SigilPaths;
  socketPath: string;
  lockTimeoutS: number;
  config?: SigilConfig;
  /** Replaces fetch for provider requests (tests of failure modes). */
  fetch?: Fetch;
  registry: AccountRegistry;
  audit: AuditLog;
  /** The one clock every part reads and schedules with. */
  clock?: Clock;
  vault?: VaultOptions;
  /**
   * Where secrets live once unlocked (config.toml's storage.primary; default the config's,
   * else "vault"). With "keyring" the vault passphrase still unlocks the agent (the vault is
   * the gate), and secrets are then served from and stored in the OS keyring.
   */
  primary?: SigilConfig['storage']['primary'];
  /** Opens the secret store with a passphrase; the vault unless a test says otherwise. */
  openStore?: (passphrase: Buffer) => Promise<SecretStore>;
  /** Checks a passphrase without unlocking (BAD_PASSPHRASE if wrong); the vault's identity unless a test says otherwise. */
  checkPassphrase?: (passphrase: Buffer) => Promise<void>;
  log?: (msg: string) => void;
  /** The program that asks the person to confirm a use when no TUI is open (SIGIL_ASKPASS at start). */
  askpass?: string | undefined;
  /** The environment `sigil sync` runs git in (the agent's own by default). */
  gitEnv?: NodeJS.ProcessEnv;
  /** The agent of one `sigil --direct` command, in the sigil process: its vault lease says so. */
  direct?: boolean;
}

/**
 * The composition root: builds the agent's parts and wires them, each given only what it
 * uses. The parts import none of this (nor each other's wiring), so there is no circle: the
 * lock holds the store, the credentials and secrets reach it through the lock's StoreGate,
 * and whatever lives only while unlocked joins the lock to be stopped and dropped with it.
 */
export class AgentState {
  readonly paths: SigilPaths;
  readonly socketPath: string;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly audit: AuditLog;
  readonly log: (msg: string) => void;
  readonly lock: VaultLock;
  readonly credentials: Credentials;
  readonly secrets: Secrets;
  readonly flows: FlowManager;
  /** config.toml's `[[policy]]`: which executables may use an account or secret (empty: no limits). */
  readonly policy: Policy;
  /** `confirm = true` rules: asks the person through an open TUI or SIGIL_ASKPASS. */
  readonly confirmations: ConfirmBroker;
  /** Devices and sync over git (sigil sync, sigil device). */
  readonly sync: SyncService;

  constructor(opts: AgentStateOptions) {
    const clock = (this.clock = opts.clock ?? systemClock);
    const log = (this.log = opts.log ?? (() => {}));
    const audit = (this.audit = opts.audit);
    this.paths = opts.paths;
    this.socketPath = opts.socketPath;
    this.startedAt = clock.now();
    this.policy = new Policy(opts.config?.policy);
    this.confirmations = new ConfirmBroker({ askpass: opts.askpass, audit: (e) => audit.record(e), log });
    const onMoved = (n: number) => {
      audit.record({ op: 'move_to_keyring', target: `${n} entries from the vault`, result: 'ok' });
      log(`moved ${n} entries from the vault into the OS keyring`);
    };
    // The sync merges the vault itself, so it needs the vault as opened (not the store's wrappers).
    let vault: VaultStore | null = null;
    const open = opts.openStore ?? storeOpener(opts.paths, opts.primary ?? opts.config?.storage.primary ?? 'vault', opts.vault, onMoved);
    const openVaultStore = async (passphrase: Buffer) => {
      const store = await open(passphrase);
      vault = store instanceof VaultStore ? store : null;
      if (vault) await this.sync.adoptAccounts(vault);
      return store;
    };
    this.lock = new VaultLock({
      lockTimeoutS: opts.lockTimeoutS,
      clock,
      openStore: withSops(openVaultStore, opts.config?.storage.sops ?? [], log),
      checkPassphrase: opts.checkPassphrase ?? ((pass) => verifyPassphrase(opts.paths, pass)),
      changePassphrase: (old, next, vaultOpts) => changePassphrase(opts.paths, old, next, vaultOpts),
      rekey: (pass) =>
        this.sync.rekey(async () => {
          if (!vault) throw new SigilError(ErrorCode.BAD_REQUEST, 'sigil rekey needs the secrets in the vault (storage.primary = "vault")');
          return rekeyVault(vault, opts.paths, pass, { ...opts.vault, renameDevice: (old, next) => this.sync.renameDevice(old, next) });
        }),
      lease: new VaultLease(`${opts.paths.vault}.lease`, { pid: process.pid, socket: opts.socketPath, ...(opts.direct ? { direct: true } : {}) }),
      audit,
      log,
    });
    const store = this.lock;
    this.credentials = new Credentials({ store, registry: opts.registry, config: opts.config, fetch: opts.fetch, audit, log, clock });
    this.secrets = new Secrets({ store, historyLimit: opts.config?.secrets?.history ?? DEFAULT_SECRET_HISTORY, clock });
    this.flows = new FlowManager({ registry: opts.registry, providers: this.credentials.providers, tokens: this.credentials.tokens, audit, clock });
    // The order a lock stops them in: flows and questions first, then the refreshes settle.
    this.lock.join(this.flows);
    this.lock.join({ locking: () => this.confirmations.cancelAll() });
    this.lock.join(this.credentials);
    this.sync = new SyncService({
      paths: opts.paths,
      clock,
      audit,
      log,
      registry: opts.registry,
      historyLimit: opts.config?.secrets?.history ?? DEFAULT_SECRET_HISTORY,
      vault: () => (this.lock.locked ? null : vault),
      gitEnv: opts.gitEnv,
      providers: this.credentials.providers,
      configPath: opts.paths.config,
      revoke: (service, account) => this.credentials.tokens.revoke(service, account),
    });
    this.lock.join({ locked: () => void (vault = null) });
    const autoS = opts.config?.sync?.autoS ?? 0;
    if (autoS > 0) this.lock.join(new AutoSync({ everyS: autoS, clock, sync: () => this.sync.sync(), enabled: () => this.sync.enabled }));
  }
}

/** config.toml's `[[storage.sops]]`: files whose values answer under a name prefix while unlocked, in front of the primary store. */
function withSops(open: (passphrase: Buffer) => Promise<SecretStore>, files: NonNullable<SigilConfig['storage']['sops']>, log: (msg: string) => void) {
  if (files.length === 0) return open;
  return async (passphrase: Buffer) => withSopsFiles(await open(passphrase), files, log);
}
