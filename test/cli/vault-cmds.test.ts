import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxEach } from '../agent/helpers.js';
import { ageCliAvailable, ageDecryptPassphrase } from '../stores/age-cli.js';
import { BIN, TEST_WORK_FACTOR, type Sandbox } from '../support/sandbox.js';

/** sigil init / unlock / passwd / status, against a real agent in a sandbox HOME. */
describe('vault commands', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));
  const identity = () => join(sb.home, 'data/sigilforge/identity.age');
  const init = (input: string) => sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input });
  const unlock = (input: string) => sb.sigil(['unlock', '--passphrase-stdin'], { input });

  // `printf 'p\np\n' | sigil init --passphrase-stdin` set the passphrase "p\np", which the age
  // recovery recipe (age -d identity.age, typed at its prompt) can never type.
  it('--passphrase-stdin takes the first line only (init set "p\\np")', async () => {
    await sb.startAgent();
    expect(await init('p\np\n')).toMatchObject({ code: 0 });
    expect(await unlock('p\np\n')).toMatchObject({ code: 0, stderr: 'Unlocked.\n' });
    await sb.sigil(['lock']);
    expect((await unlock('p')).code).toBe(0);
    await sb.sigil(['lock']);
    expect((await unlock('p\r\n')).code).toBe(0);
    await sb.sigil(['lock']);
    expect((await unlock('p\np')).code).toBe(0); // not "p\np"
    await sb.sigil(['lock']);
    expect((await unlock('q\np\n')).code).toBe(5);
  });

  it.runIf(ageCliAvailable)('the first line is what age -d asks for when recovering identity.age', async () => {
    expect((await init('p\nsecond line\n')).code).toBe(0);
    const out = join(sb.home, 'identity.txt');
    const r = await ageDecryptPassphrase(identity(), out, 'p');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^AGE-SECRET-KEY-1/m);
  });

  // `pass show sigilforge | sigil unlock --passphrase-stdin` failed for a multi-line entry.
  it('unlocks with a multi-line pass entry (passphrase first, then notes)', async () => {
    await sb.startAgent();
    expect((await init('hunter2 horse\n')).code).toBe(0);
    expect(await unlock('hunter2 horse\nlogin: me\nurl: https://example.com\n')).toMatchObject({ code: 0, stderr: 'Unlocked.\n' });
  });

  it('passwd --passphrase-stdin keeps reading one line each (old, then new), and writes an audit line', async () => {
    await sb.startAgent();
    expect((await init('old pass\n')).code).toBe(0);
    const p = await sb.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: 'old pass\nnew pass\nignored\n' });
    expect(p.code, p.stderr).toBe(0);
    expect((await unlock('new pass\n')).code).toBe(0);
    // A wrong old passphrase is refused and audited too.
    const bad = await sb.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: 'wrong\nnewer\n' });
    expect(bad.code).toBe(5);
    const lines = (await sb.sigil(['audit', '--json'])).stdout;
    const passwd = (JSON.parse(lines) as { op: string; result: string; client?: string }[]).filter((e) => e.op === 'passwd');
    expect(passwd.map((e) => [e.result, e.client])).toEqual([
      ['ok', 'sigil'],
      ['BAD_PASSPHRASE', 'sigil'],
    ]);
  });

  it('passwd without an agent changes the passphrase and still writes the audit line', async () => {
    expect((await init('old pass\n')).code).toBe(0);
    const p = await sb.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: 'old pass\nnew pass\n' });
    expect(p.code, p.stderr).toBe(0);
    expect(sb.auditEntries()).toMatchObject([{ op: 'passwd', result: 'ok', client: 'sigil', pid: expect.any(Number) }]);
    await sb.startAgent();
    expect((await unlock('new pass\n')).code).toBe(0);
  });

  // `sigil unlock` before `sigil init` asked for the passphrase, and only then said there is no vault.
  it('unlock before init says there is no vault, before asking for anything', async () => {
    await sb.startAgent();
    const vault = join(sb.home, 'data/sigilforge/vault.age');
    // No terminal, no stdin, no askpass: asking would have failed with "no terminal to ask on".
    const r = await sb.exec('setsid', ['-w', process.execPath, BIN.sigil, 'unlock']);
    expect(r).toMatchObject({ code: 7, stdout: '', stderr: `sigil: no vault at ${vault} — run: sigil init\n` });
    expect((await sb.exec('setsid', ['-w', process.execPath, BIN.sigil, 'unlock', '--remember'])).code).toBe(7);
  });

  // `sigil status` with no vault said "locked".
  it('status says there is no vault yet, in text and JSON', async () => {
    await sb.startAgent();
    const text = await sb.sigil(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('state:    no vault — run: sigil init\n');
    expect(await sb.status()).toMatchObject({ vault: false, vault_path: join(sb.home, 'data/sigilforge/vault.age'), locked: true });
    expect((await init('p\n')).code).toBe(0);
    expect(await sb.status()).toMatchObject({ vault: true, locked: true });
    expect((await sb.sigil(['status'])).stdout).toContain('state:    locked\n');
  });
});
