import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { SECRET_PREFIX } from '../../protocol/names.js';
import type { DeviceInfo, DeviceRemoval, SyncAnswer, SyncInfo, SyncInitAnswer } from '../../protocol/results.js';
import { writeFileAtomic } from '../../stores/atomic-file.js';
import { copyEntries, createDevicePart, sealVault, type Entry, type VaultStore } from '../../stores/vault-store.js';
import { checkDeviceName, checkDeviceRecipient, defaultDeviceName, parseDevices, readDevicesFile, renderDevices, type Device } from '../../sync/devices-file.js';
import { Git, REMOTE, SYNC_BRANCH } from '../../sync/git.js';
import {
  DEVICES_FILE,
  GITIGNORE,
  GITIGNORE_FILE,
  RECIPIENTS_FILE,
  VAULT_FILE,
  mergeKeyed,
  readSyncState,
  readThisDevice,
  writeSyncState,
  writeThisDevice,
  type ThisDevice,
} from '../../sync/sync-files.js';
import { mergeVaults } from '../../sync/vault-merge.js';
import type { SigilPaths } from '../../util/paths.js';
import type { AuditLog } from '../audit-log.js';
import { nowS, type Clock } from '../clock.js';
import type { AccountRegistry } from '../credentials/account-registry.js';
import { AccountMirror } from './account-mirror.js';
import { ProviderMirror } from './provider-mirror.js';
import type { ProviderRegistry } from '../../oauth/provider-registry.js';

export interface SyncServiceOptions {
  paths: SigilPaths;
  clock: Clock;
  audit: Pick<AuditLog, 'record'>;
  log: (msg: string) => void;
  registry: AccountRegistry;
  /** `[secrets] history`: a value that lost a merge is kept as history. */
  historyLimit: number;
  /** The unlocked vault, or null (locked, or secrets kept in the OS keyring). */
  vault: () => VaultStore | null;
  /** The environment git runs in (the agent's: the person's ssh agent and credentials). */
  gitEnv?: NodeJS.ProcessEnv;
  /** The providers (config.toml's tables travel too), and config.toml, where those a sync brings are appended. */
  providers: ProviderRegistry;
  configPath: string;
  /** Revokes this device's grant of an account a sync removes (TokenService.revoke). */
  revoke: (service: string, account: string) => Promise<unknown>;
}

/** The synced files of one commit (or of the work tree), as text and the vault's bytes. */
interface Side {
  vault: Buffer | null;
  devices: Device[];
  recipients: string[];
  /** recipients.txt's comment lines, kept as they are. */
  header: string;
}

/** How many times a push refused as stale (another device pushed meanwhile) is merged again. */
const PUSH_ATTEMPTS = 3;

/**
 * Sync of the vault between devices over git (`sigil sync`): fetch, a three-way merge of the
 * vault that Sigilforge does itself (src/sync/vault-merge.ts) with the last common commit as
 * base, a commit made without touching the work tree, push, and only once the remote has it
 * the local vault, devices and recipients take the merged state. A sync that fails at any step
 * before that (remote down, push refused, the agent killed) has changed nothing local.
 *
 * Sign-ins stay per device: OAuth tokens live in device.age, never committed; an account that
 * arrives from another device must be signed in here (AccountMirror).
 */
export class SyncService {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly mirror: AccountMirror;
  private readonly providerMirror: ProviderMirror;

  constructor(private readonly opts: SyncServiceOptions) {
    this.mirror = new AccountMirror(opts.registry, opts.revoke);
    this.providerMirror = new ProviderMirror(opts.providers, opts.configPath, opts.log);
  }

  /** Whether this vault syncs: `sigil sync init` or `sigil join` made its directory a work tree with devices. */
  get enabled(): boolean {
    return existsSync(this.opts.paths.devices) && existsSync(join(this.opts.paths.dataDir, '.git'));
  }

  async info(): Promise<SyncInfo> {
    if (!this.enabled) return { device: null, remote: null, last_sync: null, last_ok: null, last_summary: null };
    const [me, last, remote] = await Promise.all([
      readThisDevice(this.opts.paths.thisDevice),
      readSyncState(this.opts.paths.syncState),
      this.git().text(['config', '--get', `remote.${REMOTE}.url`]).catch(() => null),
    ]);
    return { device: me?.name ?? null, remote, last_sync: last?.at ?? null, last_ok: last?.ok ?? null, last_summary: last?.summary ?? null };
  }

  async devices(): Promise<DeviceInfo[]> {
    const me = await readThisDevice(this.opts.paths.thisDevice);
    return (await readDevicesFile(this.opts.paths.devices)).map((d) => ({
      name: d.name,
      recipient: d.recipient,
      added: unixOf(d.added),
      this_device: me?.recipient === d.recipient,
    }));
  }

  /** `sigil sync init URL`: this data directory becomes a work tree, this device the first, and the first push goes out. */
  init(remote: string, name: string | undefined): Promise<SyncInitAnswer> {
    return this.serialized(async () => {
      const { paths } = this.opts;
      if (this.enabled || existsSync(join(paths.dataDir, '.git'))) {
        throw new SigilError(ErrorCode.ALREADY_EXISTS, `this vault already syncs (${paths.dataDir} is a git work tree): run sigil sync`);
      }
      if (remote.trim() === '' || remote.startsWith('-')) throw new SigilError(ErrorCode.BAD_REQUEST, 'the remote must be a git URL or path', { field: 'remote' });
      const vault = this.requireVault();
      const deviceName = checkDeviceName(name ?? defaultDeviceName());
      const me: ThisDevice = { name: deviceName, recipient: vault.key!.recipient };
      const git = this.git();
      await git.run(['init', '--quiet', '--initial-branch', SYNC_BRANCH]);
      await git.run(['remote', 'add', REMOTE, remote]);
      await writeThisDevice(paths.thisDevice, me);
      // OAuth tokens become this device's own before anything is committed: they never leave it.
      const moved = await this.moveSignInsToDevice(vault);
      await writeFileAtomic(join(paths.dataDir, GITIGNORE_FILE), Buffer.from(GITIGNORE), 0o600);
      await writeFileAtomic(paths.devices, Buffer.from(renderDevices([{ name: deviceName, recipient: me.recipient, added: new Date(this.opts.clock.now()).toISOString() }])), 0o600);
      await this.mirror.update(vault);
      await this.providerMirror.update(vault);
      await vault.transform((e) => e); // encrypted to the devices from now on
      const files = await this.workTreeFiles();
      const commit = await git.commitTree(await git.writeTree(files), [], `sigil sync init on ${deviceName}`);
      await git.advance(commit);
      let pushError: string | undefined;
      try {
        await git.push(commit);
        await this.recordState(true, 'initialized');
      } catch (err) {
        pushError = err instanceof Error ? err.message : String(err);
        await this.recordState(false, pushError);
      }
      this.opts.audit.record({ op: 'sync_init', target: `device ${deviceName}, ${moved} sign-in tokens kept on this device`, result: pushError ? ErrorCode.REMOTE_ERROR : 'ok' });
      return { device: deviceName, recipient: me.recipient, remote, moved_tokens: moved, pushed: !pushError, ...(pushError ? { push_error: pushError } : {}) };
    });
  }

  /** `sigil sync`: pull, merge, push. Locked: only a fast-forward to what the remote has. */
  sync(): Promise<SyncAnswer> {
    return this.serialized(async () => {
      try {
        const answer = await this.syncOnce();
        await this.recordState(true, answer.summary);
        this.opts.audit.record({ op: 'sync', target: answer.summary, result: 'ok' });
        return answer;
      } catch (err) {
        const code = err instanceof SigilError ? err.code : ErrorCode.INTERNAL;
        await this.recordState(false, err instanceof Error ? err.message : String(err)).catch(() => undefined);
        this.opts.audit.record({ op: 'sync', target: 'failed', result: code });
        throw err;
      }
    });
  }

  /** `sigil device add NAME age1…`: the vault is encrypted to it too, then pushed. */
  addDevice(name: string, recipient: string): Promise<{ name: string; recipient: string; pushed: boolean; push_error?: string }> {
    return this.serialized(async () => {
      this.requireEnabled();
      checkDeviceName(name);
      checkDeviceRecipient(recipient);
      const vault = this.requireVault();
      const devices = await readDevicesFile(this.opts.paths.devices);
      const taken = devices.find((d) => d.name === name || d.recipient === recipient);
      if (taken) throw new SigilError(ErrorCode.ALREADY_EXISTS, taken.name === name ? `there is a device named ${name} already` : `that recipient is device ${taken.name}'s already`);
      devices.push({ name, recipient, added: new Date(this.opts.clock.now()).toISOString() });
      await this.writeDevices(vault, devices);
      return { name, recipient, ...(await this.pushAfterChange(`device ${name} added`)) };
    });
  }

  /** `sigil device remove NAME`: re-encrypted without it and pushed; says what it could read. */
  removeDevice(name: string): Promise<DeviceRemoval> {
    return this.serialized(async () => {
      this.requireEnabled();
      const vault = this.requireVault();
      const devices = await readDevicesFile(this.opts.paths.devices);
      const gone = devices.find((d) => d.name === name);
      if (!gone) throw new SigilError(ErrorCode.NOT_FOUND, `no device named ${name} — see: sigil device list`);
      if (gone.recipient === vault.key!.recipient) {
        throw new SigilError(ErrorCode.BAD_REQUEST, `${name} is this device: remove it from another device (a device cannot lock itself out)`);
      }
      const couldRead = [...vault.snapshot().keys()].filter((k) => k.startsWith(SECRET_PREFIX)).map((k) => k.slice(SECRET_PREFIX.length)).sort();
      await this.removeRecipientLine(gone.recipient);
      await this.writeDevices(vault, devices.filter((d) => d !== gone));
      return { name, could_read: couldRead, ...(await this.pushAfterChange(`device ${name} removed`)) };
    });
  }

  /** sigil rekey: devices.toml's entry of this device and device.json name its new recipient (a synced vault). */
  async renameDevice(old: string, next: string): Promise<void> {
    const { paths } = this.opts;
    if (!this.enabled) return;
    const devices = await readDevicesFile(paths.devices);
    if (devices.some((d) => d.recipient === old)) {
      await writeFileAtomic(paths.devices, Buffer.from(renderDevices(devices.map((d) => (d.recipient === old ? { ...d, recipient: next } : d)))), 0o600);
    }
    const me = await readThisDevice(paths.thisDevice);
    if (me?.recipient === old) await writeThisDevice(paths.thisDevice, { ...me, recipient: next });
  }

  /**
   * sigil rekey: `run` between syncs (no merge reads a half-rekeyed vault), then for a synced
   * vault a sync, so other devices seal to the new key (this one reads with the old until the lock).
   */
  rekey(run: () => Promise<string>): Promise<string> {
    return this.serialized(async () => {
      const recipient = await run();
      if (this.enabled) await this.pushAfterChange('rekeyed');
      return recipient;
    });
  }

  /**
   * At unlock: accounts the vault's mirror holds and accounts.toml lacks (a sync made while
   * locked brought them, or another agent's sync did) are added, so they answer at once.
   */
  async adoptAccounts(vault: VaultStore): Promise<void> {
    if (!this.enabled) return;
    const entries = vault.snapshot();
    try {
      await this.mirror.apply(entries, entries, vault);
      await this.providerMirror.apply(entries);
    } finally {
      for (const e of entries.values()) e.value.fill(0);
    }
  }

  // ---- the sync itself ----

  private async syncOnce(): Promise<SyncAnswer> {
    this.requireEnabled();
    const git = this.git();
    for (let attempt = 1; ; attempt++) {
      await git.fetch();
      const local = await git.commit('HEAD');
      const remote = await git.commit(`refs/remotes/${REMOTE}/${SYNC_BRANCH}`);
      const vault = this.opts.vault();
      if (!vault) return this.fastForwardLocked(git, local, remote);
      try {
        return await this.merge(git, vault, local, remote);
      } catch (err) {
        // Another device pushed between our fetch and our push: merge that too.
        if (err instanceof StalePush && attempt < PUSH_ATTEMPTS) continue;
        if (err instanceof StalePush) throw new SigilError(ErrorCode.REMOTE_ERROR, `the remote kept changing while this device synced (${PUSH_ATTEMPTS} tries): run sigil sync again`);
        throw err;
      }
    }
  }

  private async merge(git: Git, vault: VaultStore, local: string | null, remote: string | null): Promise<SyncAnswer> {
    const key = vault.key!;
    await this.mirror.update(vault);
    await this.providerMirror.update(vault);
    const ours = vault.snapshot();
    const oursSide = await this.workTreeSide();
    const base = local && remote ? await git.mergeBase(local, remote) : null;
    const theirsSide = remote ? await this.commitSide(git, remote) : null;
    const baseSide = base ? await this.commitSide(git, base) : null;
    const me = key.recipient;

    let theirs: Map<string, Entry> | null = null;
    if (theirsSide?.vault) {
      // A rekeyed device (sigil rekey) is still itself under the key it had.
      const mine = [me, ...key.previous];
      const listed = theirsSide.devices.some((d) => mine.includes(d.recipient)) || theirsSide.recipients.some((r) => mine.includes(r));
      if (!listed) {
        throw new SigilError(ErrorCode.FORBIDDEN, 'this device is no longer among the vault\'s devices on the remote (removed by another device): its vault cannot be merged; join again with sigil join');
      }
      theirs = await key.open(theirsSide.vault, `${remote!.slice(0, 12)}:${VAULT_FILE}`);
    }
    // A base this device cannot read (from before it joined) merges as "nothing known deleted".
    const baseEntries = baseSide?.vault ? await key.open(baseSide.vault, `${base!.slice(0, 12)}:${VAULT_FILE}`).catch(() => null) : null;
    const { merged, report } = theirs ? mergeVaults(baseEntries, ours, theirs, { historyLimit: this.opts.historyLimit, now: new Date(this.opts.clock.now()) }) : { merged: copyEntries(ours), report: { added: [], changed: [], deleted: [], conflicts: [] } };
    const devices = theirsSide ? mergeKeyed(baseSide?.devices ?? null, oursSide.devices, theirsSide.devices, (d) => d.name, sameDevice, laterDevice) : oursSide.devices;
    const recipientLines = theirsSide ? mergeKeyed(baseSide?.recipients ?? null, oursSide.recipients, theirsSide.recipients, (r) => r, (a, b) => a === b, (a) => a) : oursSide.recipients;
    const recipients = unique([...recipientLines, ...devices.map((d) => d.recipient)]);
    if (!recipients.includes(me)) {
      throw new SigilError(ErrorCode.FORBIDDEN, 'this device was removed from the vault by another device: its changes cannot be merged; join again with sigil join');
    }

    // The very bytes of a side whose content the merge kept, so an unchanged vault commits nothing new.
    const sameRecipientsAs = (side: Side) => sameSet(unique([...side.recipients, ...side.devices.map((d) => d.recipient)]), recipients);
    let sealed: Uint8Array;
    if (theirs && theirsSide?.vault && sameEntries(merged, theirs) && sameRecipientsAs(theirsSide)) sealed = theirsSide.vault;
    else if (oursSide.vault && sameEntries(merged, ours) && sameRecipientsAs(oursSide)) sealed = oursSide.vault;
    else sealed = await sealVault(merged, recipients);
    const files = new Map<string, Buffer>([
      [VAULT_FILE, Buffer.from(sealed)],
      [DEVICES_FILE, Buffer.from(renderDevices(devices))],
      [RECIPIENTS_FILE, Buffer.from(renderRecipients(oursSide.header, recipientLines))],
      [GITIGNORE_FILE, Buffer.from(GITIGNORE)],
    ]);

    const thisDevice = await readThisDevice(this.opts.paths.thisDevice);
    const head = await this.commitFor(git, files, local, remote, `sync from ${thisDevice?.name ?? 'a device'}`);
    const sent = head !== remote;
    if (sent) await pushOrStale(git, head);

    // The remote has it: now this device takes it. A write that came in meanwhile is merged on top.
    // Devices and recipients before the vault (as the fast-forward does): a vault.age is never
    // on disk encrypted to readers the files beside it do not name.
    await writeFileAtomic(this.opts.paths.devices, files.get(DEVICES_FILE)!, 0o600);
    await writeFileAtomic(this.opts.paths.recipients, files.get(RECIPIENTS_FILE)!, 0o600);
    await writeFileAtomic(join(this.opts.paths.dataDir, GITIGNORE_FILE), files.get(GITIGNORE_FILE)!, 0o600);
    await vault.transform((current) => (sameEntries(current, ours) ? { entries: copyEntries(merged), sealed } : mergeVaults(ours, current, copyEntries(merged), { historyLimit: this.opts.historyLimit, now: new Date(this.opts.clock.now()) }).merged));
    await git.advance(head);
    const accounts = await this.mirror.apply(merged, ours, vault);
    const providersAdded = await this.providerMirror.apply(merged);
    for (const e of [...ours.values(), ...merged.values()]) e.value.fill(0);
    theirs?.forEach((e) => e.value.fill(0));
    baseEntries?.forEach((e) => e.value.fill(0));

    const received = report.added.length + report.changed.length + report.deleted.length;
    const parts = [`${received} received`, sent ? 'sent' : 'nothing to send'];
    if (report.conflicts.length) parts.push(`${report.conflicts.length} changed on both devices (the other value kept in history)`);
    if (accounts.added.length) parts.push(`${accounts.added.length} accounts to sign in on this device`);
    if (providersAdded.length) parts.push(`providers added to config.toml: ${providersAdded.join(', ')}`);
    return {
      received,
      sent: sent ? 1 : 0,
      conflicts: report.conflicts,
      accounts_added: accounts.added,
      accounts_removed: accounts.removed,
      providers_added: providersAdded,
      commit: head,
      summary: parts.join(', '),
    };
  }

  /**
   * The commit to push: the remote's own when the merge changed nothing there, ours when the
   * remote had nothing new, else a new one whose parents are both (or the one that is not the
   * other's ancestor).
   */
  private async commitFor(git: Git, files: ReadonlyMap<string, Buffer>, local: string | null, remote: string | null, message: string): Promise<string> {
    const tree = await git.writeTree(files);
    const heads = [local, remote].filter((c): c is string => c !== null);
    const [localTree, remoteTree] = await git.trees(heads).then((t) => (local ? t : [null, ...t]));
    if (remote && tree === remoteTree) return remote;
    const remoteIsOld = remote === null || remote === local || (local !== null && (await git.isAncestor(remote, local)));
    if (local && remoteIsOld && tree === localTree) return local;
    const parents: string[] = [];
    if (local && !(remote && (await git.isAncestor(local, remote)))) parents.push(local);
    if (remote && !remoteIsOld) parents.push(remote);
    else if (remote && parents.length === 0) parents.push(remote);
    return git.commitTree(tree, parents, message);
  }

  /** Locked: the files of the remote are taken as they are, if this device has nothing of its own to merge. */
  private async fastForwardLocked(git: Git, local: string | null, remote: string | null): Promise<SyncAnswer> {
    const summary = (s: string, commit: string): SyncAnswer => ({ received: 0, sent: 0, conflicts: [], accounts_added: [], accounts_removed: [], providers_added: [], commit, summary: s });
    if (!remote) throw new SigilError(ErrorCode.LOCKED, 'the remote has no vault yet, and sending this one needs it unlocked: run sigil unlock, then sigil sync');
    if (remote === local && (await this.workTreeMatches(git, local))) return summary('up to date', remote);
    const behind = !local || (await git.isAncestor(local, remote));
    if (!behind || !(await this.workTreeMatches(git, local))) {
      throw new SigilError(ErrorCode.LOCKED, 'this device has changes the remote lacks, and merging them needs the vault unlocked: run sigil unlock, then sigil sync');
    }
    const side = await this.commitSide(git, remote);
    const { paths } = this.opts;
    // Devices and recipients before the vault: a vault.age is never on disk without the files naming its readers.
    await writeFileAtomic(paths.devices, Buffer.from(renderDevices(side.devices)), 0o600);
    await writeFileAtomic(paths.recipients, Buffer.from(renderRecipients(side.header, side.recipients)), 0o600);
    if (side.vault) await writeFileAtomic(paths.vault, side.vault, 0o600, { reserve: true });
    await git.advance(remote);
    return summary('updated from the remote (locked: unlock to see what changed)', remote);
  }

  /** True when the work tree's synced files are those of `commit` (nothing changed here since). */
  private async workTreeMatches(git: Git, commit: string | null): Promise<boolean> {
    if (!commit) return !existsSync(this.opts.paths.vault);
    const files = [...(await this.workTreeFiles())];
    const committed = await git.showAll(files.map(([name]) => `${commit}:${name}`));
    return files.every(([, content], i) => committed[i]?.equals(content) === true);
  }

  // ---- the files ----

  private async workTreeFiles(): Promise<Map<string, Buffer>> {
    const { paths } = this.opts;
    const files = new Map<string, Buffer>();
    for (const [name, path] of [
      [VAULT_FILE, paths.vault],
      [DEVICES_FILE, paths.devices],
      [RECIPIENTS_FILE, paths.recipients],
      [GITIGNORE_FILE, join(paths.dataDir, GITIGNORE_FILE)],
    ] as const) {
      const content = await readFile(path).catch(() => null);
      if (content) files.set(name, content);
    }
    return files;
  }

  private async workTreeSide(): Promise<Side> {
    const files = await this.workTreeFiles();
    return sideOf(files.get(VAULT_FILE) ?? null, files.get(DEVICES_FILE), files.get(RECIPIENTS_FILE), 'this device');
  }

  private async commitSide(git: Git, commit: string): Promise<Side> {
    const [vault, devices, recipients] = await git.showAll([VAULT_FILE, DEVICES_FILE, RECIPIENTS_FILE].map((f) => `${commit}:${f}`));
    return sideOf(vault ?? null, devices ?? undefined, recipients ?? undefined, `commit ${commit.slice(0, 12)}`);
  }

  private async writeDevices(vault: VaultStore, devices: Device[]): Promise<void> {
    await writeFileAtomic(this.opts.paths.devices, Buffer.from(renderDevices(devices)), 0o600);
    await vault.transform((e) => e); // re-encrypted to exactly these devices
  }

  private async removeRecipientLine(recipient: string): Promise<void> {
    const text = await readFile(this.opts.paths.recipients, 'utf8');
    const kept = text.split('\n').filter((l) => l.trim() !== recipient);
    if (kept.length !== text.split('\n').length) await writeFileAtomic(this.opts.paths.recipients, Buffer.from(kept.join('\n')), 0o600);
  }

  /** After a device change: sync, and say whether it reached the remote (it stays done here either way). */
  private async pushAfterChange(what: string): Promise<{ pushed: boolean; push_error?: string }> {
    try {
      const answer = await this.syncOnce();
      await this.recordState(true, `${what}; ${answer.summary}`);
      this.opts.audit.record({ op: 'sync', target: `${what}; ${answer.summary}`, result: 'ok' });
      return { pushed: true };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.recordState(false, message);
      this.opts.audit.record({ op: 'sync', target: `${what}; not sent`, result: err instanceof SigilError ? err.code : ErrorCode.INTERNAL });
      return { pushed: false, push_error: message };
    }
  }

  /** Moves every OAuth account's tokens from the shared vault into device.age; how many. */
  private async moveSignInsToDevice(vault: VaultStore): Promise<number> {
    const device = vault.device ?? (await createDevicePart(vault, this.opts.paths.device, () => new Date(this.opts.clock.now())));
    const oauth = new Set(this.opts.registry.list().filter((a) => a.kind === 'oauth').map((a) => `sigilforge/${a.service}/${a.account}/`));
    const isSignIn = (k: string) => oauth.has(k.slice(0, k.lastIndexOf('/') + 1)) && /\/(access_token|refresh_token|id_token)$/.test(k);
    const moving = [...vault.snapshot()].filter(([k]) => isSignIn(k));
    if (moving.length === 0) return 0;
    // Into device.age first: a crash in between leaves a copy in each, never none.
    await device.writeBatch(moving.map(([k, e]) => [k, e.value] as const), []);
    await vault.writeBatch([], moving.map(([k]) => k));
    for (const [, e] of moving) e.value.fill(0);
    return moving.length;
  }

  private async recordState(ok: boolean, summary: string): Promise<void> {
    await writeSyncState(this.opts.paths.syncState, { at: nowS(this.opts.clock), ok, summary }).catch((err: unknown) => {
      this.opts.log(`could not record the sync state: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private requireEnabled(): void {
    if (!this.enabled) throw new SigilError(ErrorCode.NOT_FOUND, 'this vault does not sync — start with: sigil sync init GIT-URL (or sigil join GIT-URL on a new device)');
  }

  private requireVault(): VaultStore {
    const vault = this.opts.vault();
    if (!vault?.key) throw new SigilError(ErrorCode.LOCKED, 'the vault is locked (or secrets are kept in the OS keyring, which does not sync): run sigil unlock');
    return vault;
  }

  private git(): Git {
    return new Git({ cwd: this.opts.paths.dataDir, env: this.opts.gitEnv });
  }

  /** One sync or device change at a time. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.catch(() => undefined).then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

class StalePush extends Error {}

async function pushOrStale(git: Git, commit: string): Promise<void> {
  try {
    await git.push(commit);
  } catch (err) {
    // Only a push refused for being behind is merged again; a hook or permission refusal is the remote's answer.
    if (err instanceof SigilError && /\b(non-fast-forward|fetch first|stale info)\b/.test(err.message)) throw new StalePush(err.message);
    throw err;
  }
}

function sideOf(vault: Buffer | null, devices: Buffer | undefined, recipients: Buffer | undefined, where: string): Side {
  const text = recipients?.toString('utf8') ?? '';
  const lines = text.split('\n').map((l) => l.trim());
  return {
    vault,
    devices: devices ? parseDevices(devices.toString('utf8'), `${where}: ${DEVICES_FILE}`) : [],
    recipients: lines.filter((l) => l !== '' && !l.startsWith('#')),
    header: lines.filter((l) => l.startsWith('#')).join('\n'),
  };
}

function renderRecipients(header: string, lines: readonly string[]): string {
  return `${header ? `${header}\n` : ''}${lines.map((l) => `${l}\n`).join('')}`;
}

function sameDevice(a: Device, b: Device): boolean {
  return a.recipient === b.recipient && a.added === b.added;
}

function laterDevice(a: Device, b: Device): Device {
  return a.added >= b.added ? a : b;
}

function sameEntries(a: ReadonlyMap<string, Entry>, b: ReadonlyMap<string, Entry>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, e] of a) {
    const o = b.get(k);
    if (!o || o.updated !== e.updated || !o.value.equals(e.value)) return false;
  }
  return true;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function unixOf(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
