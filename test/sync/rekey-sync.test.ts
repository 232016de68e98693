import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sigilPaths } from '../../src/util/paths.js';
import { ageDecrypt, Devices, getSecret, identityOf, ok, recipientOf, setSecret } from './sync-helpers.js';

/** `sigil rekey` on a synced vault: the device keeps its place under its new key. */
describe('sigil rekey on a synced vault', () => {
  let d: Devices;
  beforeEach(() => {
    d = new Devices();
  });
  afterEach(() => d.cleanup());

  it("after rekey on a and sigil sync, b still syncs, and a's new key opens the remote's vault.age while the old one does not", async () => {
    const a = await d.first();
    const b = await d.join(a, 'b');
    await setSecret(a, 'db/password', 'hunter2');
    await ok(a, ['sync']);
    const oldKey = await identityOf(a);
    const recipient = (await ok(a, ['rekey', '--passphrase-stdin'], 'correct horse battery staple\n')).stdout.trim();
    expect(recipientOf(a)).toBe(recipient); // device.json
    expect(readFileSync(sigilPaths(a.env).devices, 'utf8')).toContain(recipient);
    await ok(a, ['sync']);
    const newKey = await identityOf(a);
    expect(ageDecrypt(d.dir, newKey, d.show('vault.age'))).toContain('hunter2');
    expect(ageDecrypt(d.dir, oldKey, d.show('vault.age'))).toBeNull();
    expect(d.show('devices.toml').toString()).toContain(recipient);

    await ok(b, ['sync']);
    expect(await getSecret(b, 'db/password')).toBe('hunter2');
    await setSecret(b, 'from/b', 'x');
    await ok(b, ['sync']);
    await ok(a, ['sync']);
    expect(await getSecret(a, 'from/b')).toBe('x');
    expect(ageDecrypt(d.dir, oldKey, d.show('vault.age'))).toBeNull();
  });
});
