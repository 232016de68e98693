import type { SigilConfig } from '../../config/config.js';
import { openKeyringStore } from '../../stores/keyring-store.js';
import { moveEntries } from '../../stores/move-entries.js';
import type { SecretStore } from '../../stores/secret-store.js';
import { openVault, type VaultOptions } from '../../stores/vault-store.js';
import type { SigilPaths } from '../../util/paths.js';

/**
 * How the lock opens the secret store with a passphrase: the vault, or (storage.primary =
 * "keyring") the OS keyring behind the vault's passphrase. `onMoved` hears how many entries
 * went from the vault into the keyring.
 */
export function storeOpener(
  paths: SigilPaths,
  primary: SigilConfig['storage']['primary'],
  vault: VaultOptions | undefined,
  onMoved: (n: number) => void,
): (passphrase: Buffer) => Promise<SecretStore> {
  return primary === 'keyring' ? (pass) => openKeyringGated(paths, pass, vault, onMoved) : (pass) => openVault(paths, pass, vault);
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
