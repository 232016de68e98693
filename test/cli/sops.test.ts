import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateX25519Identity } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { checkMac, decryptIndependently, FIXTURES, FIXTURE_YAML } from '../stores/sops/sops-helpers.js';

/**
 * `[[storage.sops]]` end to end: the built agent and CLI, a file written by the real sops
 * 3.9, the key adopted from the age key file sops uses, reads through `secret get` and
 * `resolve`, writes that sops-age reads back.
 */
describe('SOPS files as a second store', () => {
  let sb: Sandbox;
  let file: string;
  beforeAll(async () => {
    sb = new Sandbox();
    file = join(sb.home, 'infra', 'secrets.enc.yaml');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, FIXTURE_YAML);
    chmodSync(file, 0o644); // a team's file in a git checkout
    mkdirSync(join(sb.home, 'config', 'sigilforge'), { recursive: true });
    writeFileSync(join(sb.home, 'config', 'sigilforge', 'config.toml'), '[[storage.sops]]\npath = "~/infra/secrets.enc.yaml"\nprefix = "infra/"\n');
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(() => sb.cleanup());

  it('before the key is adopted, says how to adopt it', async () => {
    const r = await sb.sigil(['secret', 'get', 'infra/stringData/key']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('sigil age-key --import');
  });

  it('age-key --import takes exactly one identity from a key file', async () => {
    const none = await sb.sigil(['age-key', '--import'], { input: 'no key here\n' });
    expect(none.code).toBe(2);
    const two = await sb.sigil(['age-key', '--import'], { input: `${await generateX25519Identity()}\n${await generateX25519Identity()}\n` });
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('2 age identities');
    expect(two.stderr).not.toContain('AGE-SECRET-KEY');
    const ok = await sb.sigil(['age-key', '--import'], { input: readFileSync(join(FIXTURES, 'age.txt')) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29\n');
    const again = await sb.sigil(['age-key', '--import'], { input: readFileSync(join(FIXTURES, 'age.txt')) });
    expect(again.code).toBe(8);
  });

  it('reads values with secret get and resolve, and lists the names under the prefix', async () => {
    expect((await sb.sigil(['secret', 'get', 'infra/stringData/key'])).stdout).toBe('value\n');
    const r = await sb.sigil(['resolve', 'secret://infra/metadata/name']);
    expect(r.stdout, r.stderr).toBe('age\n');
    expect((await sb.sigil(['secret', 'list', 'infra/'])).stdout).toBe('infra/apiVersion\ninfra/kind\ninfra/metadata/name\ninfra/stringData/key\n');
  });

  it('writes set and rm back in SOPS format: sops-age reads it, the MAC holds, the mode is kept', async () => {
    const set = await sb.sigil(['secret', 'set', 'infra/stringData/db/password', '--stdin'], { input: 'hunter2\n' });
    expect(set.code, set.stderr).toBe(0);
    const rotated = await sb.sigil(['secret', 'set', 'infra/stringData/key', '--stdin'], { input: 'rotated\n' });
    expect(rotated.code, rotated.stderr).toBe(0);
    let text = readFileSync(file, 'utf8');
    expect(await decryptIndependently(text)).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'rotated', db: { password: 'hunter2' } } });
    expect(await checkMac(text)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(text).not.toContain('hunter2');
    expect((await sb.sigil(['secret', 'get', 'infra/stringData/db/password'])).stdout).toBe('hunter2\n');

    expect((await sb.sigil(['secret', 'rm', 'infra/stringData/db/password'])).code).toBe(0);
    text = readFileSync(file, 'utf8');
    expect(await decryptIndependently(text)).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'rotated' } });
    expect(await checkMac(text)).toBe(true);
    // Nothing of the file's went into the vault's history.
    expect(JSON.parse((await sb.sigil(['secret', 'history', 'infra/stringData/key', '--json'])).stdout).versions).toEqual([]);
  });

  it('refuses --expires-in for a SOPS name (the file keeps no expiry), and leaves the file as it was', async () => {
    const before = readFileSync(file, 'utf8');
    const r = await sb.sigil(['secret', 'set', 'infra/stringData/key', '--stdin', '--expires-in', '30d'], { input: 'temporary\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is in a SOPS file, which keeps no expiry: set it without --expires-in');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a value the file would keep in clear, and leaves the file as it was', async () => {
    const before = readFileSync(file, 'utf8');
    const r = await sb.sigil(['secret', 'set', 'infra/metadata/name', '--stdin'], { input: 'x\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('encrypted_regex');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('picks up an edit of the file by someone else', async () => {
    const edited = readFileSync(file, 'utf8');
    writeFileSync(file, FIXTURE_YAML); // as `git checkout` of the old version would
    expect((await sb.sigil(['secret', 'get', 'infra/stringData/key'])).stdout).toBe('value\n');
    writeFileSync(file, edited);
    expect((await sb.sigil(['secret', 'get', 'infra/stringData/key'])).stdout).toBe('rotated\n');
  });

  it('a file not encrypted to this device: FORBIDDEN, naming its recipients', async () => {
    expect((await sb.sigil(['secret', 'rm', 'age/identity'])).code).toBe(0);
    expect((await sb.sigil(['age-key', '--generate'])).code).toBe(0);
    // The data key is held until the lock: a new identity counts from the next unlock.
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    const r = await sb.sigil(['secret', 'get', 'infra/stringData/key']);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29');
    // The vault itself is unaffected.
    expect((await sb.sigil(['secret', 'list'])).stdout).toContain('age/identity');
  });
});
