import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { identityToRecipient } from 'age-encryption';
import { createVault, openVault, rekeyVault, type VaultStore } from '../../src/stores/vault-store.js';
import { workFactorOf } from '../../src/stores/scrypt-stanza.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { FAST, pass, readIdentity, tempVault, type TempVault } from './vault-helpers.js';
import { Decrypter } from 'age-encryption';

/** Whether `identity` (AGE-SECRET-KEY-1…) decrypts the file at `path`. */
async function opens(identity: string, path: string): Promise<boolean> {
  const d = new Decrypter();
  d.addIdentity(identity);
  return d.decrypt(readFileSync(path)).then(
    () => true,
    () => false,
  );
}

describe('rekeyVault', () => {
  let v: TempVault;
  let store: VaultStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await v.cleanup();
  });

  async function unlocked(): Promise<VaultStore> {
    v = tempVault();
    await createVault(v.paths, pass(), { workFactor: FAST });
    store = await openVault(v.paths, pass());
    await store.set('db/password', Buffer.from('hunter2'));
    return store;
  }

  it('the new identity opens the vault and the old one does not; recipients.txt names the new key; same work factor', async () => {
    const s = await unlocked();
    const old = await readIdentity(v.paths);
    const recipient = await rekeyVault(s, v.paths, pass());
    const next = await readIdentity(v.paths);
    expect(await identityToRecipient(next)).toBe(recipient);
    expect(await opens(next, v.paths.vault)).toBe(true);
    expect(await opens(old, v.paths.vault)).toBe(false);
    expect(readFileSync(v.paths.recipients, 'utf8')).toContain(recipient);
    expect(readFileSync(v.paths.recipients, 'utf8')).not.toContain(await identityToRecipient(old));
    expect(workFactorOf(readFileSync(v.paths.identity))).toBe(FAST);
    // Writes after it are sealed to the new key alone, and the store still serves.
    await s.set('later', Buffer.from('x'));
    expect(await opens(old, v.paths.vault)).toBe(false);
    expect(s.key!.recipient).toBe(recipient);
    await s.close();
    store = await openVault(v.paths, pass());
    expect(store.peek('db/password')?.toString()).toBe('hunter2');
  });

  it('a wrong passphrase: BAD_PASSPHRASE and nothing on disk changed', async () => {
    const s = await unlocked();
    const before = [v.paths.vault, v.paths.identity, v.paths.recipients].map((p) => readFileSync(p));
    await expect(rekeyVault(s, v.paths, Buffer.from('wrong'))).rejects.toMatchObject({ code: ErrorCode.BAD_PASSPHRASE });
    expect([v.paths.vault, v.paths.identity, v.paths.recipients].map((p) => readFileSync(p))).toEqual(before);
  });

  for (const step of [1, 2, 3, 4, 5]) {
    it(`stopped after step ${step} (as a crash would): the identity on disk opens the vault, secrets intact`, async () => {
      const s = await unlocked();
      const stop = new SigilError(ErrorCode.INTERNAL, 'stopped');
      await expect(
        rekeyVault(s, v.paths, pass(), {
          afterStep: (n) => {
            if (n === step) throw stop;
          },
        }),
      ).rejects.toBe(stop);
      await s.close();
      store = undefined;
      const onDisk = await readIdentity(v.paths);
      expect(await opens(onDisk, v.paths.vault)).toBe(true);
      store = await openVault(v.paths, pass());
      expect(store.peek('db/password')?.toString()).toBe('hunter2');
    });
  }
});
