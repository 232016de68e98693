import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, describe, expect, it } from 'vitest';
import { openWithIdentity, sealToRecipients } from '../../src/stores/age-seal.js';
import { ageCliAvailable } from './age-cli.js';

/**
 * The vault's sealing: typage's header, Node's ChaCha20-Poly1305 for the payload. Every
 * size around the 64 KiB chunk boundary (the STREAM's one subtle rule: the last chunk is
 * flagged, full when the payload is a multiple of the chunk, empty only for an empty file)
 * must open with typage's Decrypter and with Debian's `age`.
 */
const SIZES = [0, 1, 100, 65535, 65536, 65537, 131072, 131073, 200_000];

describe('sealToRecipients', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-age-seal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens with typage for every size around the chunk boundary, to each of several recipients', async () => {
    const ids = [await generateX25519Identity(), await generateX25519Identity()];
    const recipients = await Promise.all(ids.map((id) => identityToRecipient(id)));
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const sealed = await sealToRecipients(plain, recipients);
      for (const id of ids) {
        const d = new Decrypter();
        d.addIdentity(id);
        expect(Buffer.from(await d.decrypt(sealed)).equals(plain), `size ${size}`).toBe(true);
      }
    }
  });

  it('fails to open when a byte of the payload is changed', async () => {
    const id = await generateX25519Identity();
    const sealed = await sealToRecipients(randomBytes(70_000), [await identityToRecipient(id)]);
    sealed[sealed.length - 100]! ^= 1;
    const d = new Decrypter();
    d.addIdentity(id);
    await expect(d.decrypt(sealed)).rejects.toThrow();
  });

  it.skipIf(!ageCliAvailable)("opens with Debian's age -d -i", async () => {
    const id = await generateX25519Identity();
    const idFile = join(dir, 'id.txt');
    writeFileSync(idFile, id + '\n');
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const file = join(dir, `sealed-${size}.age`);
      writeFileSync(file, await sealToRecipients(plain, [await identityToRecipient(id)]));
      const out = execFileSync('age', ['-d', '-i', idFile, file], { maxBuffer: 1 << 20 });
      expect(out.equals(plain), `size ${size}`).toBe(true);
    }
  });
});

describe('openWithIdentity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-age-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens what sealToRecipients sealed, for every size around the chunk boundary', async () => {
    const id = await generateX25519Identity();
    const recipient = await identityToRecipient(id);
    for (const size of SIZES) {
      const plain = randomBytes(size);
      expect((await openWithIdentity(await sealToRecipients(plain, [recipient]), id)).equals(plain), `size ${size}`).toBe(true);
    }
  });

  it.skipIf(!ageCliAvailable)("opens what Debian's age -r wrote, for every size", async () => {
    const id = await generateX25519Identity();
    const recipient = await identityToRecipient(id);
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const sealed = execFileSync('age', ['-r', recipient], { input: plain, maxBuffer: 1 << 20 });
      expect((await openWithIdentity(sealed, id)).equals(plain), `size ${size}`).toBe(true);
    }
  });

  it('refuses a changed byte anywhere, a cut file, an extra chunk, and another identity', async () => {
    const id = await generateX25519Identity();
    const sealed = await sealToRecipients(randomBytes(140_000), [await identityToRecipient(id)]);
    for (const at of [20, sealed.length - 50_000, sealed.length - 100, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      await expect(openWithIdentity(bad, id), `byte ${at}`).rejects.toThrow();
    }
    await expect(openWithIdentity(sealed.subarray(0, sealed.length - 70_000), id)).rejects.toThrow();
    await expect(openWithIdentity(sealed.subarray(0, sealed.length - 20), id)).rejects.toThrow();
    await expect(openWithIdentity(Buffer.concat([sealed, randomBytes(40)]), id)).rejects.toThrow();
    await expect(openWithIdentity(sealed, await generateX25519Identity())).rejects.toThrow();
    await expect(openWithIdentity(Buffer.from('not an age file'), id)).rejects.toThrow();
  });
});
