import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sigilPaths } from '../../src/util/paths.js';
import { auditUntil, restartAgent, sandboxEach } from '../agent/helpers.js';
import { TEST_PASSPHRASE, type Sandbox } from '../support/sandbox.js';
import { ageCliAvailable } from '../stores/age-cli.js';
import { ageDecrypt, getSecret, identityOf, ok, setSecret } from '../sync/sync-helpers.js';

/** `sigil rekey` against the real agent: a new vault identity, the old one shut out. */
describe.skipIf(!ageCliAvailable)('sigil rekey', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const vaultFiles = () => {
    const p = sigilPaths(sb.env);
    return [p.vault, p.identity, p.recipients].map((f) => readFileSync(f));
  };

  it('prints the new recipient; age -d with the old key fails and the new key opens vault.age; secrets survive a restart; audited without a key', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await setSecret(sb, 'db/password', 'hunter2');
    const oldKey = await identityOf(sb);
    const r = await ok(sb, ['rekey', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    const recipient = r.stdout.trim();
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    const newKey = await identityOf(sb);
    expect(newKey).not.toBe(oldKey);
    const paths = sigilPaths(sb.env);
    expect(readFileSync(paths.recipients, 'utf8')).toContain(recipient);
    expect(ageDecrypt(sb.home, oldKey, readFileSync(paths.vault))).toBeNull();
    expect(ageDecrypt(sb.home, newKey, readFileSync(paths.vault))).toContain('hunter2');
    // A write after the rekey is sealed to the new key only.
    await setSecret(sb, 'later', 'x');
    expect(ageDecrypt(sb.home, oldKey, readFileSync(paths.vault))).toBeNull();

    const entries = await auditUntil(sb, (es) => es.some((e) => e.op === 'rekey'));
    const line = entries.find((e) => e.op === 'rekey')!;
    expect(line.result).toBe('ok');
    const log = readFileSync(paths.audit, 'utf8');
    expect(log).not.toContain('AGE-SECRET-KEY');
    expect(log).not.toContain(TEST_PASSPHRASE);

    await restartAgent(sb);
    expect(await getSecret(sb, 'db/password')).toBe('hunter2');
    expect(await getSecret(sb, 'later')).toBe('x');
  });

  it('a wrong passphrase: BAD_PASSPHRASE (exit 5), nothing changed; locked: exit 4', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const before = vaultFiles();
    const wrong = await sb.sigil(['rekey', '--passphrase-stdin'], { input: 'not it\n' });
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain('incorrect passphrase');
    expect(vaultFiles()).toEqual(before);
    await ok(sb, ['lock']);
    const locked = await sb.sigil(['rekey', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' });
    expect(locked.code).toBe(4);
    expect(vaultFiles()).toEqual(before);
  });
});
