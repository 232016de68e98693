import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageCliAvailable, ageDecryptIdentity, run } from '../stores/age-cli.js';
import { BIN, Sandbox, TEST_PASSPHRASE, eventually, which } from '../support/sandbox.js';

describe.skipIf(!ageCliAvailable)('sigil age-key with the real age CLI', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(() => sb.cleanup());

  it('generates an identity once, prints it and its recipient, and age decrypts with it', async () => {
    const none = await sb.sigil(['age-key']);
    expect(none.code).toBe(7);
    expect(none.stderr).toContain('sigil age-key --generate');

    const gen = await sb.sigil(['age-key', '--generate']);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toMatch(/^age1[0-9a-z]{58}\n$/);
    const recipient = gen.stdout.trim();
    expect(gen.stderr).not.toContain('AGE-SECRET-KEY');

    const again = await sb.sigil(['age-key', '--generate']);
    expect(again.code).toBe(8);
    expect(again.stderr).toContain('already exists');

    const key = await sb.sigil(['age-key']);
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}\n$/);
    const rcpt = await sb.sigil(['age-key', '--recipient']);
    expect(rcpt.stdout).toBe(recipient + '\n');
    // The same identity, seen as an ordinary secret.
    expect((await sb.sigil(['secret', 'get', 'age/identity'])).stdout).toBe(key.stdout);

    const plain = join(sb.home, 'plain.txt');
    const enc = join(sb.home, 'plain.txt.age');
    writeFileSync(plain, 'sops would keep this\n');
    const e = await run('age', ['-r', recipient, '-o', enc, plain]);
    expect(e.code, e.stderr).toBe(0);

    const idFile = join(sb.home, 'identity.txt');
    writeFileSync(idFile, key.stdout, { mode: 0o600 });
    expect(statSync(idFile).mode & 0o777).toBe(0o600);
    const out = join(sb.home, 'out.txt');
    const d = await ageDecryptIdentity(enc, out, idFile);
    expect(d.code, d.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('sops would keep this\n');

    if (which('bash')) {
      // As SOPS_AGE_KEY_CMD is used: the key goes through a pipe, never a file.
      const b = await sb.exec('bash', ['-c', `age -d -i <('${process.execPath}' '${BIN.sigil}' age-key) '${enc}'`]);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toBe('sops would keep this\n');
    }
  });

  it('answers LOCKED (exit 4) while the agent is locked', async () => {
    expect((await sb.sigil(['lock'])).code).toBe(0);
    for (const args of [['age-key'], ['age-key', '--recipient'], ['age-key', '--generate']]) {
      const r = await sb.sigil(args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stdout).toBe('');
    }
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    expect((await sb.sigil(['age-key'])).stdout).toMatch(/^AGE-SECRET-KEY-1/);
  });

  it('keeps the identity out of the audit log', async () => {
    await eventually(() => sb.auditEntries().some((e) => e.op === 'get_secret' && e.target === 'secret://age/identity'));
    const audit = readFileSync(sb.auditPath, 'utf8');
    expect(audit).toContain('secret://age/identity');
    expect(audit).not.toContain('AGE-SECRET-KEY');
  });
});
