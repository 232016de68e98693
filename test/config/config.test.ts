import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOCK_TIMEOUT_S, loadConfig } from '../../src/config/config.js';
import { AccountRegistry } from '../../src/agent/credentials/account-registry.js';
import { nodeFileOps, type FileOps } from '../../src/stores/atomic-file.js';

describe('config.toml', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-config-'));
    path = join(dir, 'config.toml');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults everything when the file is missing', () => {
    expect(loadConfig(path)).toEqual({ agent: { lockTimeoutS: DEFAULT_LOCK_TIMEOUT_S, refreshAheadS: 0 }, storage: { primary: 'vault' }, providers: {} });
  });

  it('reads the documented example', () => {
    writeFileSync(path, '[agent]\nlock_timeout = "1h"\n[storage]\nprimary = "keyring"\n[providers.spotify]\nclient_id = "abc"\nscopes = ["user-read-private"]\n');
    expect(loadConfig(path)).toMatchObject({ agent: { lockTimeoutS: 3600 }, storage: { primary: 'keyring' }, providers: { spotify: { client_id: 'abc' } } });
  });

  it('reads [tokens] persist_access_tokens, absent unless given', () => {
    writeFileSync(path, '[tokens]\npersist_access_tokens = false\n');
    expect(loadConfig(path).tokens).toEqual({ persistAccessTokens: false });
    writeFileSync(path, '[tokens]\n');
    expect(loadConfig(path).tokens).toBeUndefined();
  });

  it('reads [sync] auto: a duration of at least a minute, or 0; absent unless given', () => {
    writeFileSync(path, '[sync]\nauto = "5m"\n');
    expect(loadConfig(path).sync).toEqual({ autoS: 300 });
    writeFileSync(path, '[sync]\nauto = "0"\n');
    expect(loadConfig(path).sync).toEqual({ autoS: 0 });
    writeFileSync(path, '[sync]\n');
    expect(loadConfig(path).sync).toBeUndefined();
    for (const bad of ['"10s"', '"often"', '300']) {
      writeFileSync(path, `[sync]\nauto = ${bad}\n`);
      expect(() => loadConfig(path)).toThrow('"sync.auto" must be a duration of at least a minute, such as "5m" (or "0": sync by hand only)');
    }
  });

  it('names file, line and column of a syntax error', () => {
    writeFileSync(path, '[agent]\nlock_timeout = "15m"\nbroken = \n');
    expect(() => loadConfig(path)).toThrow(new RegExp(`^${path.replace(/[/.]/g, '\\$&')}:3:\\d+: `));
  });

  it('names the key with a wrong value', () => {
    writeFileSync(path, '[agent]\nlock_timeout = "soon"\n');
    expect(() => loadConfig(path)).toThrow('"agent.lock_timeout" must be a duration');
    writeFileSync(path, '[storage]\nprimary = "floppy"\n');
    expect(() => loadConfig(path)).toThrow('"storage.primary" must be "vault" or "keyring"');
    writeFileSync(path, '[tokens]\npersist_access_tokens = "no"\n');
    expect(() => loadConfig(path)).toThrow('"tokens.persist_access_tokens" must be true (store access tokens in the vault) or false (keep them in memory only)');
  });

  it('reads [[storage.sops]]: ~ and relative paths, the format from the extension or the key', () => {
    writeFileSync(
      path,
      '[[storage.sops]]\npath = "~/infra/secrets.enc.yaml"\nprefix = "infra/"\n[[storage.sops]]\npath = "team.enc"\nprefix = "team/"\nformat = "json"\n',
    );
    const home = process.env.HOME;
    expect(loadConfig(path).storage.sops).toEqual([
      { path: join(home!, 'infra/secrets.enc.yaml'), prefix: 'infra/', format: 'yaml' },
      { path: join(dir, 'team.enc'), prefix: 'team/', format: 'json' },
    ]);
  });

  it('names what is wrong in a [[storage.sops]] entry', () => {
    const cases: Array<[string, string]> = [
      ['path = "a.yaml"\nprefix = "infra"', '"storage.sops[0].prefix" must be a secret-name prefix ending in "/"'],
      ['path = "a.txt"\nprefix = "infra/"', '"storage.sops[0].format" must be "yaml" or "json"'],
      ['prefix = "infra/"', '"storage.sops[0].path" must be the path of a SOPS-encrypted file'],
      ['path = "a.yaml"\nprefix = "age/"', 'leaves age/identity in the vault'],
      ['path = "a.yaml"\nprefix = "infra/"\n[[storage.sops]]\npath = "b.yaml"\nprefix = "infra/db/"', '"storage.sops[1].prefix" must be a prefix no other entry\'s contains'],
    ];
    for (const [entry, message] of cases) {
      writeFileSync(path, `[[storage.sops]]\n${entry}\n`);
      expect(() => loadConfig(path), entry).toThrow(message);
    }
  });
});

describe('accounts.toml', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-accounts-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips metadata, including names TOML must quote', async () => {
    const path = join(dir, 'accounts.toml');
    const reg = AccountRegistry.load(path);
    await reg.add({ service: 'google', account: 'me@example.com', kind: 'static', created: '2026-01-01T00:00:00.000Z' });
    await reg.update('google', 'me@example.com', { expires_at: 1_900_000_000, scopes: ['openid'] });
    await expect(reg.add({ service: 'google', account: 'me@example.com', kind: 'static', created: 'x' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const again = AccountRegistry.load(path);
    expect(again.list()).toEqual([{ service: 'google', account: 'me@example.com', kind: 'static', created: '2026-01-01T00:00:00.000Z', expires_at: 1_900_000_000, scopes: ['openid'] }]);
    expect(() => again.require('github', 'work')).toThrow('no account github/work');
  });

  it('keeps issued_at, and drops a token_type that is no HTTP scheme (it would forge header lines)', () => {
    const path = join(dir, 'accounts.toml');
    writeFileSync(
      path,
      '[corp.a]\nkind = "oauth"\ncreated = "2026-01-01T00:00:00.000Z"\ntoken_type = "Bearer\\r\\nX-Evil: 1"\nexpires_at = 1900000300\nissued_at = 1900000000\n' +
        '[corp.b]\nkind = "oauth"\ncreated = "2026-01-01T00:00:00.000Z"\ntoken_type = "bearer"\n',
    );
    const reg = AccountRegistry.load(path);
    expect(reg.get('corp', 'a')).toEqual({ service: 'corp', account: 'a', kind: 'oauth', created: '2026-01-01T00:00:00.000Z', expires_at: 1_900_000_300, issued_at: 1_900_000_000 });
    expect(reg.get('corp', 'b')?.token_type).toBe('Bearer');
  });

  it('a failed write (ENOSPC) changes nothing, in memory or in accounts.toml', async () => {
    const path = join(dir, 'accounts.toml');
    let full = false;
    const fileOps: FileOps = {
      ...nodeFileOps,
      writeNew: (...a) => (full ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device (simulated)'), { code: 'ENOSPC' })) : nodeFileOps.writeNew(...a)),
    };
    const reg = AccountRegistry.load(path, { fileOps });
    await reg.add({ service: 'github', account: 'work', kind: 'static', created: '2026-01-01T00:00:00.000Z' });
    const before = readFileSync(path);
    const listed = reg.list();

    full = true;
    await expect(reg.add({ service: 'gitlab', account: 'new', kind: 'static', created: 'x' })).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining(`could not write ${path}: ENOSPC`) });
    await expect(reg.update('github', 'work', { expires_at: 1_900_000_000 })).rejects.toThrow(/ENOSPC/);
    await expect(reg.put({ service: 'gitlab', account: 'new', kind: 'oauth', created: 'x' })).rejects.toThrow(/ENOSPC/);
    await expect(reg.remove('github', 'work')).rejects.toThrow(/ENOSPC/);
    expect(reg.list()).toEqual(listed);
    expect(reg.get('gitlab', 'new')).toBeUndefined();
    expect(readFileSync(path).equals(before)).toBe(true);

    full = false;
    await reg.update('github', 'work', { expires_at: 1_900_000_000 });
    expect(AccountRegistry.load(path).list()).toEqual([{ service: 'github', account: 'work', kind: 'static', created: '2026-01-01T00:00:00.000Z', expires_at: 1_900_000_000 }]);
  });
});
