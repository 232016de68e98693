import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { SigilError } from '../../src/protocol/errors.js';
import {
  changePassphrase,
  createVault,
  openVault,
  vaultExists,
  type VaultStore,
} from '../../src/stores/vault-store.js';
import { nodeFileOps, type FileOps } from '../../src/stores/atomic-file.js';
import { describeSecretStoreContract } from './store-contract.js';
import { FAST, pass, readIdentity, readVaultDoc, tempVault, type TempVault } from './vault-helpers.js';

const opts = { workFactor: FAST };
const K = (name: string) => `sigilforge/_secret/${name}`;
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write (simulated)'), { code: 'ENOSPC' });

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SigilError);
  return (err as SigilError).code;
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SigilError);
  return (err as SigilError).message;
}

describeSecretStoreContract(
  'VaultStore',
  async () => {
    const t = tempVault();
    await createVault(t.paths, pass(), opts);
    return {
      store: await openVault(t.paths, pass(), opts),
      reopen: () => openVault(t.paths, pass(), opts),
      cleanup: t.cleanup,
    };
  },
  { numRuns: 15 },
);

describe('age vault', () => {
  let t: TempVault;
  const stores: VaultStore[] = [];
  const open = async (passphrase = pass()) => {
    const s = await openVault(t.paths, passphrase, opts);
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await t?.cleanup();
  });

  it('creates three private files in a private directory', async () => {
    t = tempVault();
    expect(await vaultExists(t.paths)).toBe(false);
    await createVault(t.paths, pass(), opts);
    expect(await vaultExists(t.paths)).toBe(true);
    for (const f of [t.paths.vault, t.paths.identity, t.paths.recipients]) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
    }
    expect(statSync(dirname(t.paths.vault)).mode & 0o777).toBe(0o700);
    expect(readdirSync(dirname(t.paths.vault)).sort()).toEqual(['.vault.age.reserve', 'identity.age', 'recipients.txt', 'vault.age']);

    const identity = await readIdentity(t.paths);
    const recipients = readFileSync(t.paths.recipients, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('age1'));
    expect(recipients).toEqual([await identityToRecipient(identity)]);
    // Binary age format, not armored.
    expect(readFileSync(t.paths.vault).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(await readVaultDoc(t.paths)).toEqual({ format: 'sigilforge-vault', schema: 1, entries: {} });
  });

  it('persists set and delete, with the documented JSON layout', async () => {
    t = tempVault();
    const now = () => new Date('2030-01-02T03:04:05.000Z');
    await createVault(t.paths, pass(), opts);
    const store = await openVault(t.paths, pass(), { ...opts, now });
    stores.push(store);
    await store.set(K('text'), Buffer.from('hunter2 ✓'));
    await store.set(K('bin'), Buffer.from([0xff, 0x00, 0x80]));
    await store.set(K('gone'), Buffer.from('x'));
    expect(await store.delete(K('gone'))).toBe(true);

    expect(await readVaultDoc(t.paths)).toEqual({
      format: 'sigilforge-vault',
      schema: 1,
      entries: {
        [K('text')]: { value: 'hunter2 ✓', encoding: 'utf8', updated: '2030-01-02T03:04:05.000Z' },
        [K('bin')]: { value: '/wCA', encoding: 'base64', updated: '2030-01-02T03:04:05.000Z' },
      },
    });
    expect(statSync(t.paths.vault).mode & 0o777).toBe(0o600);

    const again = await open();
    expect(await again.list('')).toEqual([K('bin'), K('text')]);
    expect((await again.get(K('text')))?.toString()).toBe('hunter2 ✓');
    expect(await again.get(K('bin'))).toEqual(Buffer.from([0xff, 0x00, 0x80]));
  });

  it('answers BAD_PASSPHRASE, NOT_FOUND and ALREADY_EXISTS', async () => {
    t = tempVault();
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('NOT_FOUND');
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/no vault at .*vault\.age — run: sigil init/);
    await createVault(t.paths, pass(), opts);
    expect(await codeOf(openVault(t.paths, Buffer.from('wrong'), opts))).toBe('BAD_PASSPHRASE');
    expect(await codeOf(createVault(t.paths, pass(), opts))).toBe('ALREADY_EXISTS');
    expect(await codeOf(createVault(t.paths, Buffer.alloc(0), opts))).toBe('BAD_REQUEST');
    expect(await codeOf(changePassphrase(t.paths, pass(), pass(), { workFactor: 30 }))).toBe('BAD_REQUEST');
  });

  it('explains an interrupted init (identity without vault)', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    rmSync(t.paths.vault);
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('NOT_FOUND');
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/interrupted/);
    expect(await codeOf(createVault(t.paths, pass(), opts))).toBe('ALREADY_EXISTS');
  });

  it('changes the passphrase without touching the vault', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const store = await open();
    await store.set(K('kept'), Buffer.from('value'));
    const vaultBefore = readFileSync(t.paths.vault);

    expect(await codeOf(changePassphrase(t.paths, Buffer.from('wrong'), Buffer.from('new pass'), opts))).toBe(
      'BAD_PASSPHRASE',
    );
    await changePassphrase(t.paths, pass(), Buffer.from('new pass'), opts);
    expect(readFileSync(t.paths.vault)).toEqual(vaultBefore);
    expect(statSync(t.paths.identity).mode & 0o777).toBe(0o600);
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('BAD_PASSPHRASE');
    const again = await open(Buffer.from('new pass'));
    expect((await again.get(K('kept')))?.toString()).toBe('value');
  });

  it('waits for accepted writes before close wipes the entries', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const store = await openVault(t.paths, pass(), opts);
    const pending = store.set(K('late'), Buffer.from('v'));
    await store.close();
    await pending;
    expect(await codeOf(store.get(K('late')))).toBe('LOCKED');
    expect(await messageOf(store.get(K('late')))).toBe('vault is locked');
    expect((await (await open()).get(K('late')))?.toString()).toBe('v');
  });

  it('rejects an unknown schema, a foreign file and a corrupt vault with clear errors', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const genuine = readFileSync(t.paths.vault);
    const recipient = await identityToRecipient(await readIdentity(t.paths));
    const seal = async (text: string) => {
      const e = new Encrypter();
      e.addRecipient(recipient);
      writeFileSync(t.paths.vault, await e.encrypt(text));
    };

    await seal(JSON.stringify({ format: 'sigilforge-vault', schema: 2, entries: {} }));
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('INTERNAL');
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/schema 2.*reads schema 1 only/);

    await seal(JSON.stringify({ hello: 'world' }));
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/not a sigilforge vault/);

    // V8's JSON errors quote the input: the message must not carry the plaintext.
    await seal('{"format":"sigilforge-vault","schema":1,"entries":{"k":{"value":"TOPSECRET"');
    const msg = await messageOf(openVault(t.paths, pass(), opts));
    expect(msg).toMatch(/corrupt: not valid JSON/);
    expect(msg).not.toMatch(/TOPSECRET/);

    await seal(JSON.stringify({ format: 'sigilforge-vault', schema: 1, entries: { k: { value: 1 } } }));
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/malformed entry "k"/);

    // Encrypted to someone else's key.
    const other = { vault: `${t.paths.vault}.other`, identity: `${t.paths.identity}.other`, recipients: `${t.paths.recipients}.other` };
    await createVault(other, pass(), opts);
    writeFileSync(t.paths.vault, readFileSync(other.vault));
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/could not decrypt the vault/);

    // Ours, but damaged: a flipped payload bit, then a truncation.
    const damaged = Buffer.from(genuine);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 1, damaged.length - 1);
    writeFileSync(t.paths.vault, damaged);
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/could not decrypt the vault/);
    writeFileSync(t.paths.vault, genuine.subarray(0, genuine.length - 20));
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('INTERNAL');
  });

  it('encrypts every write to all of recipients.txt, and always to its own key', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const backup = await generateIdentity();
    appendFileSync(t.paths.recipients, `# backup key, kept offline\n${await identityToRecipient(backup)}\n`);
    const store = await open();
    await store.set(K('k'), Buffer.from('v'));
    expect((await readVaultDoc(t.paths, backup)).entries[K('k')]?.value).toBe('v');
    expect((await readVaultDoc(t.paths)).entries[K('k')]?.value).toBe('v');

    // Our own key removed by hand: still written to it, or the next unlock would fail.
    writeFileSync(t.paths.recipients, `${await identityToRecipient(backup)}\n`);
    await store.set(K('k'), Buffer.from('w'));
    expect((await (await open()).get(K('k')))?.toString()).toBe('w');
  });

  it('a failed write is served anyway — no more: a failed set leaves the old value, in memory and after reopening', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    let full = false;
    const fileOps: FileOps = { ...nodeFileOps, writeNew: (...a) => (full ? Promise.reject(enospc()) : nodeFileOps.writeNew(...a)) };
    const store = await openVault(t.paths, pass(), { ...opts, fileOps });
    stores.push(store);
    await store.set(K('a'), Buffer.from('old'));
    const before = readFileSync(t.paths.vault);

    full = true;
    const msg = await messageOf(store.set(K('a'), Buffer.from('new')));
    expect(msg).toMatch(/^could not write the vault: ENOSPC/);
    await expect(store.set(K('b'), Buffer.from('2'))).rejects.toThrow(/ENOSPC/);
    await expect(store.writeBatch([[K('c'), Buffer.from('3')]], [K('a')])).rejects.toThrow(/ENOSPC/);
    expect((await store.get(K('a')))?.toString()).toBe('old');
    expect(store.peek(K('b'))).toBeNull();
    expect(await store.list('')).toEqual([K('a')]);
    expect(readFileSync(t.paths.vault).equals(before)).toBe(true);

    // The next write that succeeds carries only its own change, not the failed ones.
    full = false;
    await store.set(K('d'), Buffer.from('4'));
    expect(Object.keys((await readVaultDoc(t.paths)).entries).sort()).toEqual([K('a'), K('d')]);
    expect((await (await open()).get(K('a')))?.toString()).toBe('old');
  });

  it('a failed delete keeps the entry, and delete answers whether the key was there', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    let fail = false;
    const fileOps: FileOps = { ...nodeFileOps, rename: (...a) => (fail ? Promise.reject(Object.assign(new Error('EIO: simulated'), { code: 'EIO' })) : nodeFileOps.rename(...a)) };
    const store = await openVault(t.paths, pass(), { ...opts, fileOps });
    stores.push(store);
    await store.set(K('a'), Buffer.from('1'));
    fail = true;
    await expect(store.delete(K('a'))).rejects.toThrow(/could not write the vault: EIO/);
    expect((await store.get(K('a')))?.toString()).toBe('1');
    fail = false;
    // Set and delete riding on one write: the delete finds the set's key.
    const [, existed, again] = await Promise.all([store.set(K('b'), Buffer.from('2')), store.delete(K('b')), store.delete(K('never'))]);
    expect([existed, again]).toEqual([true, false]);
    expect(await store.list('')).toEqual([K('a')]);
    expect(Object.keys((await readVaultDoc(t.paths)).entries)).toEqual([K('a')]);
  });

  it('binary values survive set/get across reopening the vault (256 random bytes)', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const store = await open();
    const value = randomBytes(256);
    value[0] = 0xff; // never in UTF-8
    await store.set(K('blob'), value);
    expect((await readVaultDoc(t.paths)).entries[K('blob')]).toMatchObject({ encoding: 'base64', value: value.toString('base64') });
    expect((await (await open()).get(K('blob')))?.equals(value)).toBe(true);
  });

  it('reports a write that fails for a bad recipients.txt, and changes nothing', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const good = readFileSync(t.paths.recipients);
    const store = await open();

    writeFileSync(t.paths.recipients, 'ssh-ed25519 AAAAC3Nza… not supported\n');
    const msg = await messageOf(store.set(K('a'), Buffer.from('1')));
    expect(msg).toMatch(/^could not write the vault: .*recipients\.txt line 1: not an age recipient/);
    expect(await store.get(K('a'))).toBeNull();

    writeFileSync(t.paths.recipients, good);
    await store.set(K('b'), Buffer.from('2'));
    const doc = await readVaultDoc(t.paths);
    expect(Object.keys(doc.entries).sort()).toEqual([K('b')]);
  });

  it('refuses to unlock when recipients.txt is missing or invalid', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    rmSync(t.paths.recipients);
    expect(await messageOf(openVault(t.paths, pass(), opts))).toMatch(/recipients file .* is missing; recreate it with the line age1/);
    writeFileSync(t.paths.recipients, 'age1notakey\n');
    expect(await codeOf(openVault(t.paths, pass(), opts))).toBe('INTERNAL');
  });

  it('makes 200 concurrent set() calls durable, each before it resolves, in a few coalesced writes', async () => {
    t = tempVault();
    await createVault(t.paths, pass(), opts);
    const identity = await readIdentity(t.paths);
    const store = await open();
    const keys = Array.from({ length: 200 }, (_, i) => K(`concurrent-${i}`));
    // What was on disk at the moment each set() resolved.
    const seen = new Map<string, Buffer>();
    const pending: Promise<unknown>[] = [];
    // Four waves of 50: later waves arrive while an earlier write is in flight.
    for (let wave = 0; wave < 4; wave++) {
      for (let i = wave * 50; i < (wave + 1) * 50; i++) {
        const k = keys[i] as string;
        pending.push(store.set(k, Buffer.from(`value-${i}`)).then(() => seen.set(k, readFileSync(t.paths.vault))));
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);

    const decrypted = new Map<string, Set<string>>();
    for (const [k, file] of seen) {
      const id = file.toString('base64');
      if (!decrypted.has(id)) decrypted.set(id, new Set(Object.keys((await readVaultDoc(t.paths, identity, file)).entries)));
      expect(decrypted.get(id)?.has(k)).toBe(true);
    }
    expect(seen.size).toBe(200);
    // Coalesced: one write per wave at most, not one per set().
    expect(decrypted.size).toBeLessThanOrEqual(4);

    const again = await open();
    expect(again.size()).toBe(200);
    for (const [i, k] of keys.entries()) expect((await again.get(k))?.toString()).toBe(`value-${i}`);
    expect(readdirSync(dirname(t.paths.vault)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
