import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import {
  IncorrectPassphraseError,
  ScryptRecipient,
  decryptWithPassphrase,
  encryptWithPassphrase,
} from '../../src/stores/scrypt-stanza.js';
import { ageCliAvailable, ageDecryptPassphrase, ageEncryptPassphrase } from './age-cli.js';

const FAST = 10; // work factor for tests that are not about cost: ~1 ms per derivation
const PASS = 'correct horse battery staple';
const pass = () => Buffer.from(PASS);
const plaintext = Buffer.from('the file body\n');

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sigil-scrypt-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Rewrites the work factor in a passphrase file's header (the MAC breaks; the guard must fire first). */
function withWorkFactor(file: Uint8Array, logN: string): Uint8Array {
  const text = Buffer.from(file).toString('latin1');
  return Buffer.from(text.replace(/^(-> scrypt \S+) \d+$/m, `$1 ${logN}`), 'latin1');
}

describe('scrypt stanza', () => {
  it('round-trips', async () => {
    const file = await encryptWithPassphrase(plaintext, pass(), FAST);
    expect(Buffer.from(file).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 10\n/);
    expect(Buffer.from(await decryptWithPassphrase(file, pass()))).toEqual(plaintext);
  });

  it('reports a wrong passphrase as IncorrectPassphraseError', async () => {
    const file = await encryptWithPassphrase(plaintext, pass(), FAST);
    await expect(decryptWithPassphrase(file, Buffer.from('nope'))).rejects.toBeInstanceOf(IncorrectPassphraseError);
  });

  it("interoperates with typage's built-in scrypt both ways", async () => {
    const ours = await encryptWithPassphrase(plaintext, pass(), FAST);
    const d = new Decrypter();
    d.addPassphrase(PASS);
    expect(Buffer.from(await d.decrypt(ours))).toEqual(plaintext);

    const e = new Encrypter();
    e.setPassphrase(PASS);
    e.setScryptWorkFactor(FAST);
    expect(Buffer.from(await decryptWithPassphrase(await e.encrypt(plaintext), pass()))).toEqual(plaintext);
  });

  it('refuses a work factor above 2^22 before spending anything', async () => {
    const file = await encryptWithPassphrase(plaintext, pass(), FAST);
    for (const logN of ['23', '64', '1000000']) {
      const started = Date.now();
      await expect(decryptWithPassphrase(withWorkFactor(file, logN), pass())).rejects.toThrow(
        /work factor 2\^\d+ is above the limit of 2\^22/,
      );
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  it('rejects malformed stanzas', async () => {
    const file = await encryptWithPassphrase(plaintext, pass(), FAST);
    for (const logN of ['0', '010', '-1', '1e1']) {
      await expect(decryptWithPassphrase(withWorkFactor(file, logN), pass())).rejects.toThrow(/invalid scrypt stanza/);
    }
  });

  it('refuses to write a work factor out of range', () => {
    expect(() => new ScryptRecipient(pass(), 0)).toThrow(RangeError);
    expect(() => new ScryptRecipient(pass(), 23)).toThrow(RangeError);
    expect(() => new ScryptRecipient(pass(), 10.5)).toThrow(RangeError);
  });

  it('refuses a passphrase stanza mixed with other recipients, as age does', async () => {
    const e = new Encrypter();
    e.addRecipient(new ScryptRecipient(pass(), FAST));
    e.addRecipient(await identityToRecipient(await generateIdentity()));
    const file = await e.encrypt(plaintext);
    await expect(decryptWithPassphrase(file, pass())).rejects.toThrow(/must be the only one/);
  });

  it('keeps the event loop free while deriving', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    try {
      const file = await encryptWithPassphrase(plaintext, pass(), 16); // ~100 ms of native scrypt
      await decryptWithPassphrase(file, pass());
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(10);
  });
});

describe.skipIf(!ageCliAvailable)('scrypt stanza and the age CLI', () => {
  it('decrypts a file written by `age -p` (work factor 18)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain'), plaintext);
    const r = await ageEncryptPassphrase(join(dir, 'plain'), join(dir, 'f.age'), PASS);
    expect(r.code).toBe(0);
    const file = readFileSync(join(dir, 'f.age'));
    expect(file.toString('latin1')).toMatch(/\n-> scrypt \S+ 18\n/);
    expect(Buffer.from(await decryptWithPassphrase(file, pass()))).toEqual(plaintext);
    await expect(decryptWithPassphrase(file, Buffer.from('nope'))).rejects.toBeInstanceOf(IncorrectPassphraseError);
  }, 20_000);

  it('writes a file that `age -d` decrypts (work factor 18)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.age'), await encryptWithPassphrase(plaintext, pass(), 18));
    const r = await ageDecryptPassphrase(join(dir, 'f.age'), join(dir, 'out'), PASS);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'out'))).toEqual(plaintext);

    const wrong = await ageDecryptPassphrase(join(dir, 'f.age'), join(dir, 'out2'), 'nope');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout + wrong.stderr).toMatch(/incorrect passphrase/);
  }, 20_000);

  it('writes a low work factor that `age -d` also accepts', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.age'), await encryptWithPassphrase(plaintext, pass(), FAST));
    const r = await ageDecryptPassphrase(join(dir, 'f.age'), join(dir, 'out'), PASS);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'out'))).toEqual(plaintext);
  }, 20_000);
});
