/**
 * Disaster recovery: the vault must open with nothing but Debian's `age` and the
 * passphrase, as DESIGN.md promises.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createVault, openVault } from '../../src/stores/vault-store.js';
import { ageCliAvailable, ageDecryptIdentity, ageDecryptPassphrase, run } from './age-cli.js';
import { FAST, PASS, pass, tempVault, type TempVault, type VaultDoc } from './vault-helpers.js';

const K = 'sigilforge/github/work/refresh_token';

describe.skipIf(!ageCliAvailable)('age vault and the age CLI', () => {
  let t: TempVault;
  afterEach(async () => t.cleanup());

  async function decryptWithAgeCli(identityFile: string): Promise<VaultDoc> {
    const out = join(t.dir, 'vault.json');
    const r = await ageDecryptIdentity(t.paths.vault, out, identityFile);
    expect(r.code).toBe(0);
    return JSON.parse(readFileSync(out, 'utf8')) as VaultDoc;
  }

  it('opens with `age -d` (passphrase, default work factor 18) then `age -d -i`', async () => {
    t = tempVault();
    await createVault(t.paths, pass()); // age's default work factor, as users get it
    expect(readFileSync(t.paths.identity).toString('latin1')).toMatch(/\n-> scrypt \S+ 18\n/);
    const store = await openVault(t.paths, pass());
    await store.set(K, Buffer.from('gho_value-from-the-vault'));
    await store.set('sigilforge/_secret/blob', Buffer.from([0, 1, 254, 255]));
    await store.close();

    const idFile = join(t.dir, 'identity.txt');
    const r = await ageDecryptPassphrase(t.paths.identity, idFile, PASS);
    expect(r.code).toBe(0);
    expect(readFileSync(idFile, 'utf8')).toMatch(/^# created: .*\n# public key: age1\w+\nAGE-SECRET-KEY-1\w+\n$/);

    const doc = await decryptWithAgeCli(idFile);
    expect(doc.format).toBe('sigilforge-vault');
    expect(doc.schema).toBe(1);
    expect(doc.entries[K]).toMatchObject({ value: 'gho_value-from-the-vault', encoding: 'utf8' });
    expect(doc.entries['sigilforge/_secret/blob']).toMatchObject({ value: 'AAH+/w==', encoding: 'base64' });
  }, 30_000);

  it('lets a backup key added to recipients.txt decrypt after the next write', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), { workFactor: FAST });
    const backupFile = join(t.dir, 'backup.txt');
    expect((await run('age-keygen', ['-o', backupFile])).code).toBe(0);
    const backupRecipient = readFileSync(backupFile, 'utf8').match(/public key: (age1\w+)/)?.[1];
    expect(backupRecipient).toBeDefined();

    const store = await openVault(t.paths, pass(), { workFactor: FAST });
    await store.set(K, Buffer.from('before'));
    const before = await ageDecryptIdentity(t.paths.vault, join(t.dir, 'x'), backupFile);
    expect(before.code).not.toBe(0);

    appendFileSync(t.paths.recipients, `# backup, made with age-keygen\n${backupRecipient}\n`);
    await store.set(K, Buffer.from('after'));
    await store.close();
    expect((await decryptWithAgeCli(backupFile)).entries[K]?.value).toBe('after');
  }, 30_000);
});
