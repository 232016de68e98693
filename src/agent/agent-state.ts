import { ErrorCode } from '../protocol/codes.js';
import { lockedError, SigilError } from '../protocol/errors.js';
import type { SecretStore } from '../stores/secret-store.js';
import { changePassphrase, openVault, verifyPassphrase, type VaultOptions } from '../stores/vault-store.js';
import { openKeyringStore } from '../stores/keyring-store.js';
import { moveEntries } from '../stores/move-entries.js';
import { VaultLease } from '../stores/vault-lease.js';
import type { SigilPaths } from '../util/paths.js';
import type { AccountRegistry } from './account-registry.js';
import type { AuditLog } from './audit-log.js';
import { IdleLock, systemClock, type Clock } from './idle-lock.js';
import { UnlockThrottle } from './unlock-throttle.js';
import { formatDuration } from '../util/duration.js';
import { TokenService } from './token-service.js';
import { FlowManager } from './flow-manager.js';
import { ProviderRegistry } from '../oauth/provider-registry.js';
import type { Fetch } from '../oauth/oauth-errors.js';
import { DEFAULT_SECRET_HISTORY, type SigilConfig } from '../config/config.js';
import { credentialKey, SECRET_PREFIX } from '../protocol/names.js';
import { runNotifyCommand } from './notify.js';
import { RefreshAhead } from './refresh-ahead.js';
import { IdleGc } from './idle-gc.js';
import { ConfirmBroker } from './confirm-broker.js';
import { Policy } from './policy.js';
import { withSopsFiles } from '../stores/sops/sops-router.js';

/**
 * Everything the agent owns, and the lock state machine: `store` is null exactly while
 * locked, so "locked" cannot disagree with "holds decrypted values". Starts locked.
 */
export interface AgentStateOptions {
  paths: SigilPaths;
  socketPath: string;
  lockTimeoutS: number;
  config?: SigilConfig;
  /** Replaces fetch for provider requests (tests of failure modes). */
  fetch?: Fetch;
  registry: AccountRegistry;
  audit: AuditLog;
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
}

export interface UnlockOptions {
  /** Check the passphrase even when the agent is already unlocked: it is about to be remembered. */
  verify?: boolean;
  /** The passphrase was read from the OS keyring (unlock at login), not typed. */
  fromKeyring?: boolean;
}

export class AgentState {
  readonly paths: SigilPaths;
  readonly socketPath: string;
  readonly registry: AccountRegistry;
  readonly audit: AuditLog;
  readonly idle: IdleLock;
  readonly throttle: UnlockThrottle;
  readonly startedAt: number;
  readonly tokens: TokenService;
  readonly providers: ProviderRegistry;
  readonly flows: FlowManager;
  readonly refreshAhead: RefreshAhead;
  readonly idleGc = new IdleGc();
  readonly log: (msg: string) => void;
  /** Previous versions kept per secret (config.toml's `[secrets] history`); 0 = none. */
  readonly secretHistory: number;
  /** config.toml's `[[policy]]`: which executables may use an account or secret (empty: no limits). */
  readonly policy: Policy;
  /** `confirm = true` rules: asks the person through an open TUI or SIGIL_ASKPASS. */
  readonly confirmations: ConfirmBroker;
  private store: SecretStore | null = null;
  /** Counts completed writes to the store (set, delete): what was read before is stale after. */
  storeWrites = 0;
  private unlocking: Promise<void> | null = null;
  /** Bumped by every lock, so an unlock that was running when it came can tell. */
  private lockGeneration = 0;
  private readonly openStore: (passphrase: Buffer) => Promise<SecretStore>;
  private readonly checkPassphrase: (passphrase: Buffer) => Promise<void>;
  private readonly lockListeners = new Set<() => void>();
  private readonly lease: VaultLease;
  /** config.toml's `[[storage.sops]]`: files whose values answer under a name prefix while unlocked. */
  private readonly sopsFiles: NonNullable<SigilConfig['storage']['sops']>;

  constructor(opts: AgentStateOptions) {
    const clock = opts.clock ?? systemClock;
    this.paths = opts.paths;
    this.socketPath = opts.socketPath;
    this.registry = opts.registry;
    this.audit = opts.audit;
    this.log = opts.log ?? (() => {});
    this.secretHistory = opts.config?.secrets?.history ?? DEFAULT_SECRET_HISTORY;
    this.policy = new Policy(opts.config?.policy);
    this.confirmations = new ConfirmBroker({ askpass: opts.askpass, audit: (e) => this.audit.record(e), log: this.log });
    this.startedAt = clock.now();
    this.providers = new ProviderRegistry(opts.config?.providers ?? {}, (service) => this.clientSecret(service), opts.fetch);
    const notifyCmd = opts.config?.agent.notifyCmd;
    this.tokens = new TokenService(this, this.providers, () => Math.floor(clock.now() / 1000), (meta, reason) => {
      if (notifyCmd) runNotifyCommand(notifyCmd, { service: meta.service, account: meta.account, event: 'needs_auth', reason }, this.log);
    });
    this.flows = new FlowManager(this, this.providers);
    this.refreshAhead = new RefreshAhead(this, opts.config?.agent.refreshAheadS ?? 0);
    this.throttle = new UnlockThrottle(() => clock.now());
    this.idle = new IdleLock(opts.lockTimeoutS, () => void this.lock('timeout'), clock);
    this.sopsFiles = opts.config?.storage.sops ?? [];
    this.lease = new VaultLease(`${opts.paths.vault}.lease`, { pid: process.pid, socket: opts.socketPath });
    const primary = opts.primary ?? opts.config?.storage.primary ?? 'vault';
    this.openStore =
      opts.openStore ??
      (primary === 'keyring'
        ? (pass) =>
            openKeyringGated(opts.paths, pass, opts.vault, (n) => {
              this.audit.record({ op: 'move_to_keyring', target: `${n} entries from the vault`, result: 'ok' });
              this.log(`moved ${n} entries from the vault into the OS keyring`);
            })
        : (pass) => openVault(opts.paths, pass, opts.vault));
    this.checkPassphrase = opts.checkPassphrase ?? ((pass) => verifyPassphrase(opts.paths, pass));
  }

  get locked(): boolean {
    return this.store === null;
  }

  /** The unlocked store, or LOCKED. Every secret-bearing op goes through here. */
  requireStore(): SecretStore {
    if (!this.store) throw lockedError();
    return this.store;
  }

  /** Marks a secret use: restarts the idle lock countdown. */
  used(): void {
    this.idle.touch();
    this.idleGc.activity();
  }

  onLock(fn: () => void): () => void {
    this.lockListeners.add(fn);
    return () => this.lockListeners.delete(fn);
  }

  /**
   * Unlocks with `passphrase`, which the caller owns and wipes. Attempts are serialized: a
   * second unlock while one runs waits for it and then succeeds at once if it worked —
   * unless `verify` asks for this passphrase to be checked all the same.
   */
  async unlock(passphrase: Buffer, opts: UnlockOptions = {}): Promise<void> {
    while (this.unlocking) await this.unlocking.catch(() => {});
    if (this.store) {
      if (opts.verify) await this.verify(passphrase);
      return;
    }
    // A passphrase from the keyring is not a guess: whoever asks cannot choose it, so it
    // neither waits for nor feeds the back-off. A stale one (changed by passwd elsewhere)
    // must not make the person wait before typing the right one.
    const guess = !opts.fromKeyring;
    if (guess) this.checkThrottle();
    const generation = this.lockGeneration;
    const attempt = (async () => {
      this.lease.acquire();
      let store: SecretStore;
      try {
        store = await this.openStore(passphrase);
      } catch (err) {
        this.lease.release();
        if (guess && isBadPassphrase(err)) this.throttle.failed();
        throw err;
      }
      // A lock (command, SIGUSR1, shutdown) arrived while scrypt ran: the person wants it locked.
      if (generation !== this.lockGeneration) {
        await store.close();
        this.lease.release();
        throw new SigilError(ErrorCode.LOCKED, 'the agent was locked while unlocking');
      }
      this.store = notifyWrites(withSopsFiles(store, this.sopsFiles, this.log), () => {
        this.storeWrites++;
        this.idleGc.request();
      });
      this.idleGc.request();
      this.throttle.succeeded();
      this.idle.start();
      this.refreshAhead.start();
      this.log('unlocked');
    })();
    this.unlocking = attempt;
    try {
      await attempt;
    } finally {
      this.unlocking = null;
    }
  }

  /** Checks a passphrase on an unlocked agent; wrong ones cost as they do when locked. */
  private async verify(passphrase: Buffer): Promise<void> {
    this.checkThrottle();
    try {
      await this.checkPassphrase(passphrase);
    } catch (err) {
      if (isBadPassphrase(err)) this.throttle.failed();
      throw err;
    }
    this.throttle.succeeded();
  }

  /** passwd: identity.age under a new passphrase; a wrong old one costs as a wrong unlock does. */
  async changePassphrase(old: Buffer, next: Buffer, opts: VaultOptions = {}): Promise<void> {
    this.checkThrottle();
    try {
      await changePassphrase(this.paths, old, next, opts);
    } catch (err) {
      if (isBadPassphrase(err)) this.throttle.failed();
      throw err;
    }
    this.throttle.succeeded();
  }

  private checkThrottle(): void {
    const wait = this.throttle.waitMs();
    if (wait > 0) {
      throw new SigilError(ErrorCode.RATE_LIMITED, `too many wrong passphrases — try again in ${formatDuration(Math.ceil(wait / 1000))}`);
    }
  }

  /** Drops every decrypted value and key. Idempotent. */
  async lock(reason: 'request' | 'timeout' | 'signal' | 'shutdown'): Promise<boolean> {
    this.lockGeneration++;
    const store = this.store;
    if (!store) return false;
    this.flows.cancelAll();
    this.confirmations.cancelAll();
    this.refreshAhead.stop();
    // A refresh in flight has already spent the old refresh token at the provider: let it
    // store the rotated one before the vault closes, or the account would be signed out.
    await this.tokens.settle();
    if (this.store !== store) return false;
    this.store = null;
    this.idle.stop();
    this.providers.forget();
    this.tokens.forget();
    await store.close();
    this.lease.release();
    this.idleGc.request();
    if (reason !== 'request') this.audit.record({ op: 'lock', target: reason, result: 'ok' });
    void this.audit.flush();
    this.log(`locked (${reason})`);
    for (const fn of this.lockListeners) fn();
    return true;
  }

  /** A provider's client secret, kept in the vault (never in config.toml). */
  private async clientSecret(service: string): Promise<string | null> {
    const value = await this.store?.get(credentialKey(service, '_provider', 'client_secret'));
    if (!value) return null;
    const text = value.toString('utf8');
    value.fill(0);
    return text;
  }

  /** Providers named in config.toml (and those add_provider appended since the start). */
  providerNames(): string[] {
    return this.providers.names();
  }

  /** Free-form secrets (not account credentials, not their history); null while locked. */
  async secretCount(): Promise<number | null> {
    return this.store ? (await this.store.list(SECRET_PREFIX)).length : null;
  }
}

/**
 * storage.primary = "keyring": the passphrase must open the vault (that check, the unlock
 * throttle and the lock state stay the vault's), then the OS keyring is probed and serves.
 * Entries the vault still holds (stored before the switch) are moved into the keyring, then
 * the vault's decrypted entries are dropped. A keyring that cannot be used fails the unlock
 * with the reason (no D-Bus, no Secret Service, locked): the person chose it.
 */
async function openKeyringGated(paths: SigilPaths, passphrase: Buffer, vault: VaultOptions | undefined, onMoved: (n: number) => void): Promise<SecretStore> {
  const gate = await openVault(paths, passphrase, vault);
  try {
    const keyring = await openKeyringStore();
    try {
      // What the vault held from before the switch to the keyring moves there, once.
      const moved = await moveEntries(gate, keyring);
      if (moved > 0) onMoved(moved);
    } catch (err) {
      await keyring.close();
      throw err;
    }
    return keyring;
  } finally {
    await gate.close();
  }
}

function isBadPassphrase(err: unknown): boolean {
  return err instanceof SigilError && err.code === ErrorCode.BAD_PASSPHRASE;
}

/** The store with a hook after each write (writes re-encrypt the whole vault: garbage). */
function notifyWrites(store: SecretStore, onWrite: () => void): SecretStore {
  return {
    name: store.name,
    get: (key) => store.get(key),
    ...(store.peek ? { peek: (key: string) => store.peek!(key) } : {}),
    set: async (key, value) => {
      await store.set(key, value);
      onWrite();
    },
    delete: async (key) => {
      const existed = await store.delete(key);
      onWrite();
      return existed;
    },
    ...(store.writeBatch
      ? {
          writeBatch: async (sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]) => {
            await store.writeBatch!(sets, deletes);
            onWrite();
          },
        }
      : {}),
    list: (prefix) => store.list(prefix),
    size: () => store.size(),
    close: () => store.close(),
  };
}
