import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join as joinPath } from 'node:path';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { createIdentity } from '../../stores/vault-store.js';
import { checkDeviceName, defaultDeviceName } from '../../sync/devices-file.js';
import { Git, SYNC_BRANCH } from '../../sync/git.js';
import { DEVICES_FILE, VAULT_FILE, writeThisDevice } from '../../sync/sync-files.js';
import { sigilPaths } from '../../util/paths.js';
import { call } from '../agent.js';
import { formatTime, info, printJson, printTable } from '../output.js';
import { readNewSecret } from '../secret-input.js';
import { workFactor, type PassOpts } from './vault-cmds.js';

export async function syncInit(remote: string, opts: { name?: string; json?: boolean }): Promise<void> {
  const r = await call('sync_init', { remote, ...(opts.name !== undefined ? { name: opts.name } : {}) });
  if (opts.json) return printJson(r);
  info(`This vault now syncs with ${r.remote}, as device ${r.device} (${r.recipient}).`);
  if (r.moved_tokens > 0) info(`${r.moved_tokens} sign-in tokens stay on this device only (sign-ins are per device).`);
  if (!r.pushed) info(`The first push failed: ${r.push_error}\nThe vault syncs locally; run sigil sync once the remote can be reached.`);
  info(`On another device: sigil join ${r.remote}`);
}

export async function syncNow(opts: { json?: boolean }): Promise<void> {
  const r = await call('sync');
  if (opts.json) return printJson(r);
  info(`Synced: ${r.summary}.`);
  if (r.conflicts.length) info(`Changed on two devices (the later write is current; rollback brings the other back):\n  ${r.conflicts.join('\n  ')}`);
  if (r.accounts_added.length) info(`Accounts to sign in on this device:\n${r.accounts_added.map((a) => `  sigil accounts authorize ${a.replace('/', ' ')}`).join('\n')}`);
  if (r.accounts_removed.length) info(`Accounts removed on another device: ${r.accounts_removed.join(', ')}`);
  if (r.providers_added.length) info(`Providers from another device, added to config.toml: ${r.providers_added.join(', ')}`);
}

export async function deviceList(opts: { json?: boolean }): Promise<void> {
  const r = await call('list_devices');
  if (opts.json) return printJson(r);
  if (r.device === null) {
    info('This vault does not sync — start with: sigil sync init GIT-URL');
    return;
  }
  printTable(
    ['DEVICE', 'RECIPIENT', 'ADDED', ''],
    r.devices.map((d) => [d.name, d.recipient, formatTime(d.added), d.this_device ? '(this device)' : '']),
  );
  const last = r.last_sync === null ? 'never' : `${formatTime(r.last_sync)}, ${r.last_ok ? r.last_summary : `failed: ${r.last_summary}`}`;
  info(`remote: ${r.remote ?? '(none)'}\nlast sync: ${last}`);
}

export async function deviceAdd(name: string, recipient: string): Promise<void> {
  const r = await call('add_device', { name, recipient });
  info(`Added device ${r.name}: the vault is encrypted to it too.`);
  info(r.pushed ? `Pushed; on ${r.name} run: sigil sync` : `Not pushed yet (${r.push_error}): run sigil sync once the remote can be reached.`);
}

export async function deviceRemove(name: string, opts: { json?: boolean }): Promise<void> {
  const r = await call('remove_device', { name });
  if (opts.json) return printJson(r);
  info(`Removed device ${r.name}: what is written from now on is not encrypted to it.`);
  if (r.could_read.length) {
    info(`It could read these secrets (and the vault's static tokens and API keys) — rotate them:`);
    process.stdout.write(r.could_read.map((n) => `${n}\n`).join(''));
  }
  if (!r.pushed) info(`Not pushed yet (${r.push_error}): run sigil sync once the remote can be reached.`);
}

/**
 * `sigil join URL`: this device takes a synced vault from its remote and gets its own key.
 * Done here, without the agent: there is no vault yet to unlock, and git runs as the person
 * (their ssh keys, their credential helpers). The vault opens once a device already in it
 * has added this one (`sigil device add`) and this one has synced.
 */
export async function joinVault(remote: string, opts: { name?: string } & PassOpts): Promise<void> {
  const paths = sigilPaths();
  for (const path of [paths.vault, paths.identity]) {
    if (existsSync(path)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `this device has a vault already (${path}): sigil join is for a device without one`);
  }
  const name = checkDeviceName(opts.name ?? defaultDeviceName());
  const wf = workFactor(opts); // a bad option is refused before anything is cloned
  const parent = dirname(paths.dataDir);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const tmp = joinPath(parent, `.sigilforge-join-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await new Git({ cwd: parent }).run(['clone', '--quiet', '--branch', SYNC_BRANCH, '--', remote, tmp], { remote: true });
    if (!existsSync(joinPath(tmp, DEVICES_FILE)) || !existsSync(joinPath(tmp, VAULT_FILE))) {
      throw new SigilError(ErrorCode.NOT_FOUND, `${remote} holds no synced Sigilforge vault (no ${DEVICES_FILE}): on the first device run sigil sync init ${remote}`);
    }
    // Asked only once the remote is known to hold a vault.
    const pass = await readNewSecret('Passphrase for this device\'s key: ', { stdin: !!opts.passphraseStdin, line: true });
    let recipient: string;
    try {
      recipient = await createIdentity(joinPath(tmp, 'identity.age'), pass, wf === undefined ? {} : { workFactor: wf });
    } finally {
      pass.fill(0);
    }
    await writeThisDevice(joinPath(tmp, 'device.json'), { name, recipient });
    await mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(tmp)) await rename(joinPath(tmp, entry), joinPath(paths.dataDir, entry));
    info(`Joined ${remote} as device ${name}. This device's recipient:`);
    process.stdout.write(`${recipient}\n`);
    info(`On a device already in the vault run:\n  sigil device add ${name} ${recipient}\nthen here: sigil sync, and sigil unlock with this device's passphrase.`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
