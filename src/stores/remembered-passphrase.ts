/**
 * Unlock at login: the vault passphrase kept in the OS keyring, so the agent can unlock
 * itself whenever the keyring is unlocked (as gnome-keyring does for ssh keys).
 *
 * - One keyring item: service "sigilforge-vault", username = the vault's absolute path (two
 *   vaults never share one), value = the passphrase's bytes. `secret-tool lookup service
 *   sigilforge-vault username ~/.local/share/sigilforge/vault.age` shows it.
 * - An opt-in marker file, `unlock-at-login` next to the vault (mode 0600, one line of JSON
 *   naming the item, never a secret). Nothing here touches D-Bus unless it exists: reading a
 *   locked collection pops an unlock dialog on desktops, and a person who never opted in
 *   must never see one because of us.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { openKeyringAccess } from './keyring-access.js';

/** The item's service attribute (the keyring store's items use "sigilforge"). */
export const REMEMBERED_SERVICE = 'sigilforge-vault';

export interface RememberedPaths {
  vault: string;
  /** The opt-in marker. */
  unlockAtLogin: string;
}

/** Whether the person opted in: a file check only, no D-Bus (status polls this). */
export function unlockAtLoginEnabled(paths: RememberedPaths): boolean {
  return existsSync(paths.unlockAtLogin);
}

/**
 * The remembered passphrase, as a Buffer the caller owns and wipes. NOT_FOUND when nothing
 * is remembered (no marker, or an item removed behind our back); the keyring's own errors
 * say which part is missing (no D-Bus, no Secret Service, locked).
 */
export async function recallPassphrase(paths: RememberedPaths): Promise<Buffer> {
  if (!unlockAtLoginEnabled(paths)) throw notRemembered();
  const access = await openKeyringAccess();
  const raw = await access.call(() => access.entry(REMEMBERED_SERVICE, username(paths)).getSecret());
  if (raw === null || raw.length === 0) throw notRemembered();
  const passphrase = Buffer.from(raw);
  raw.fill(0);
  return passphrase;
}

/**
 * Stores `passphrase` (the caller's; checked against the vault by the caller first), then
 * writes the marker: a crash between the two leaves an item nothing reads, never a marker
 * pointing at nothing.
 */
export async function rememberPassphrase(paths: RememberedPaths, passphrase: Buffer): Promise<void> {
  const access = await openKeyringAccess();
  await access.call(() => access.entry(REMEMBERED_SERVICE, username(paths)).setSecret(passphrase));
  const marker = JSON.stringify({ keyring: { service: REMEMBERED_SERVICE, username: username(paths) } });
  try {
    await writeFileAtomic(paths.unlockAtLogin, Buffer.from(marker + '\n'), 0o600);
  } catch (err) {
    throw new SigilError(ErrorCode.INTERNAL, `could not write ${paths.unlockAtLogin}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Removes the marker first (from then on the agent leaves the keyring alone), then the item.
 * True when either existed. A keyring that cannot be reached is an error saying that unlock
 * at login is off but the item may remain.
 */
export async function forgetPassphrase(paths: RememberedPaths): Promise<boolean> {
  const marked = unlockAtLoginEnabled(paths);
  await rm(paths.unlockAtLogin, { force: true });
  try {
    const access = await openKeyringAccess();
    const deleted = await access.call(() => access.entry(REMEMBERED_SERVICE, username(paths)).deleteCredential());
    return marked || deleted;
  } catch (err) {
    const message = err instanceof SigilError ? err.message : String(err);
    throw new SigilError(ErrorCode.INTERNAL, `unlock at login is off, but the passphrase could not be removed from the OS keyring: ${message}`, { cause: err });
  }
}

/** The vault's absolute path: what tells two vaults' items apart. */
function username(paths: RememberedPaths): string {
  return resolve(paths.vault);
}

function notRemembered(): SigilError {
  return new SigilError(ErrorCode.NOT_FOUND, 'no passphrase is remembered for this vault — run: sigil unlock --remember');
}
