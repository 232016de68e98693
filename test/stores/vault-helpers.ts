/** Temp vaults for tests. Passphrases here are test-only constants, never printed. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decrypter } from 'age-encryption';
import { decryptWithPassphrase } from '../../src/stores/scrypt-stanza.js';
import type { VaultPaths } from '../../src/stores/vault-store.js';

/** scrypt work factor for tests that are not about cost: ~1 ms per unlock. */
export const FAST = 10;
export const PASS = 'test passphrase';
export const pass = () => Buffer.from(PASS);

export interface TempVault {
  dir: string;
  paths: VaultPaths;
  cleanup: () => Promise<void>;
}

/** A fresh temp dir; the vault lives in a not-yet-existing subdirectory, as under XDG_DATA_HOME. */
export function tempVault(): TempVault {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-vault-'));
  const data = join(dir, 'data', 'sigilforge');
  return {
    dir,
    paths: {
      vault: join(data, 'vault.age'),
      identity: join(data, 'identity.age'),
      recipients: join(data, 'recipients.txt'),
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function readIdentity(paths: VaultPaths, passphrase = pass()): Promise<string> {
  const text = Buffer.from(await decryptWithPassphrase(readFileSync(paths.identity), passphrase)).toString();
  const line = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'));
  if (line === undefined) throw new Error('no identity line');
  return line;
}

export interface VaultDoc {
  format: string;
  schema: number;
  entries: Record<string, { value: string; encoding: 'utf8' | 'base64'; updated: string }>;
}

/** What is on disk right now, decrypted independently of VaultStore. */
export async function readVaultDoc(paths: VaultPaths, identity?: string, file?: Uint8Array): Promise<VaultDoc> {
  const d = new Decrypter();
  d.addIdentity(identity ?? (await readIdentity(paths)));
  return JSON.parse(await d.decrypt(file ?? readFileSync(paths.vault), 'text')) as VaultDoc;
}
