import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sigilPaths } from '../../src/util/paths.js';
import { auditUntil, running } from '../agent/helpers.js';
import { eventually, TEST_PASSPHRASE, type Sandbox } from '../support/sandbox.js';
import { ageDecrypt, Devices, getSecret, identityOf, ok, recipientOf, secretNames, setSecret } from './sync-helpers.js';

/**
 * `sigil sync` between devices through a bare git repository: join, add, remove, offline
 * edits on both sides, failures half-way. Each device is a sandbox HOME with its own agent.
 */
describe('sync between devices', () => {
  let d: Devices;
  beforeEach(() => {
    d = new Devices();
  });
  afterEach(() => d.cleanup());

  /** Two devices with an edit each: b's pushed already, a's (from/a) not synced yet. */
  async function diverged(): Promise<{ a: Sandbox; b: Sandbox }> {
    const a = await d.first();
    const b = await d.join(a, 'b');
    await setSecret(b, 'from/b', 'x');
    await ok(b, ['sync']);
    await setSecret(a, 'from/a', 'y');
    return { a, b };
  }

  /** After a kill -9 of a's agent mid-sync: a new agent, unlocked, syncs; then both devices hold both edits. */
  async function recoversAfterKill(a: Sandbox, b: Sandbox): Promise<void> {
    await a.startAgent();
    await ok(a, ['unlock', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    await ok(a, ['sync']);
    await ok(b, ['sync']);
    for (const sb of [a, b]) {
      expect(await secretNames(sb)).toEqual(['from/a', 'from/b']);
      expect(await getSecret(sb, 'from/a')).toBe('y');
    }
  }

  it('a vault that does not sync is left alone: sigil sync says how to start, and nothing is created', async () => {
    const sb = await d.plain();
    const r = await sb.sigil(['sync']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('sigil sync init');
    expect(existsSync(join(sigilPaths(sb.env).dataDir, '.git'))).toBe(false);
    const list = await ok(sb, ['device', 'list']);
    expect(list.stderr).toContain('does not sync');
  });

  it('join, then add: the new device cannot open the vault until added, then reads what the first wrote', async () => {
    const a = await d.first('laptop');
    await setSecret(a, 'db/password', 'hunter2');
    await ok(a, ['sync']);

    const b = await d.joinOnly('desk');
    const early = await b.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' });
    expect(early.code).toBe(12);
    expect(early.stderr).toContain(`sigil device add NAME ${recipientOf(b)}`);

    await ok(a, ['device', 'add', 'desk', recipientOf(b)]);
    // Locked, the new device takes what the remote has (there is nothing of its own to merge).
    await ok(b, ['sync']);
    await ok(b, ['unlock', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    expect(await getSecret(b, 'db/password')).toBe('hunter2');

    const list = JSON.parse((await ok(b, ['device', 'list', '--json'])).stdout) as { device: string; devices: Array<{ name: string; this_device: boolean }> };
    expect(list.device).toBe('desk');
    expect(list.devices.map((x) => [x.name, x.this_device])).toEqual([
      ['desk', true],
      ['laptop', false],
    ]);
    const status = JSON.parse((await ok(b, ['status', '--json'])).stdout) as { sync: { device: string; last_ok: boolean } };
    expect(status.sync).toMatchObject({ device: 'desk', last_ok: true });
    // Public keys and names only in the remote's plain files; the vault itself is age.
    expect(d.show('devices.toml').toString()).toContain(recipientOf(b));
    expect(d.show('vault.age').subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  });

  it('offline edits on both devices merge: different names both kept, the same name the later write wins with the other in history', async () => {
    const a = await d.first();
    await setSecret(a, 'shared', 'v0');
    await ok(a, ['sync']);
    const b = await d.join(a, 'b');

    // Offline: each device writes without syncing.
    await setSecret(a, 'only/a', 'A');
    await setSecret(b, 'only/b', 'B');
    await setSecret(a, 'shared', 'from-a');
    await new Promise((r) => setTimeout(r, 20)); // b's write is the later one
    await setSecret(b, 'shared', 'from-b');

    await ok(a, ['sync']);
    await ok(b, ['sync']);
    await ok(a, ['sync']);

    for (const sb of [a, b]) {
      expect(await secretNames(sb)).toEqual(['only/a', 'only/b', 'shared']);
      expect(await getSecret(sb, 'shared')).toBe('from-b');
      const history = (await ok(sb, ['secret', 'history', 'shared', '--json'])).stdout;
      expect(history).toContain('"version"');
    }
    // The value that lost is kept: rolling back to it on either device brings it back.
    const versions = JSON.parse((await ok(b, ['secret', 'history', 'shared', '--json'])).stdout) as { versions: Array<{ version: number }> };
    const values: string[] = [];
    for (const v of versions.versions) {
      await ok(b, ['secret', 'rollback', 'shared', String(v.version)]);
      values.push((await getSecret(b, 'shared'))!);
    }
    expect(values).toContain('from-a');
  });

  it('static tokens and API keys travel; the account comes with them', async () => {
    const a = await d.first();
    await ok(a, ['token', 'set', 'gitlab', 'work', '--stdin'], 'glpat-static-123');
    await ok(a, ['sync']);
    const b = await d.join(a, 'b');
    const t = await b.token('gitlab', 'work');
    expect(t.code).toBe(0);
    expect(t.stdout).toBe('glpat-static-123\n');
  });

  it('providers travel: one the new device lacks is appended to its config.toml, one it has is left alone', async () => {
    const a = await d.first();
    const aConfig = join(sigilPaths(a.env).configDir, 'config.toml');
    mkdirSync(dirname(aConfig), { recursive: true });
    writeFileSync(aConfig, '[providers.corp]\nissuer = "http://127.0.0.1:9/"\nclient_id = "sigil"\nscopes = ["openid"]\n');
    await a.sigil(['lock']);
    process.kill(JSON.parse((await ok(a, ['status', '--json'])).stdout).pid as number, 'SIGTERM');
    await eventually(() => !existsSync(a.socket));
    await a.startAgent();
    await ok(a, ['unlock', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    await ok(a, ['sync']);

    const b = await d.join(a, 'b');
    const own = join(sigilPaths(b.env).configDir, 'config.toml');
    expect(readFileSync(own, 'utf8')).toContain('[providers.corp]');
    expect(readFileSync(own, 'utf8')).toContain('client_id = "sigil"');
    expect((await ok(b, ['providers', 'list', '--json'])).stdout).toContain('"corp"');
    // A's own table is never rewritten from B's.
    writeFileSync(own, readFileSync(own, 'utf8').replace('client_id = "sigil"', 'client_id = "changed-on-b"'));
    await ok(b, ['sync']);
    await ok(a, ['sync']);
    expect(readFileSync(aConfig, 'utf8')).toContain('client_id = "sigil"');
  });

  it('three devices editing offline converge on the same vault', async () => {
    const a = await d.first();
    const b = await d.join(a, 'b');
    const c = await d.join(a, 'c');
    await ok(b, ['sync']);
    await setSecret(a, 'x/a', '1');
    await setSecret(b, 'x/b', '2');
    await setSecret(c, 'x/c', '3');
    await ok(c, ['secret', 'rm', 'x/a']).catch(() => undefined); // not there yet on c: nothing to delete
    for (const sb of [a, b, c, a, b]) await ok(sb, ['sync']);
    for (const sb of [a, b, c]) expect(await secretNames(sb)).toEqual(['x/a', 'x/b', 'x/c']);
  });

  it('a delete on one device and an edit on the other: the edit is not lost', async () => {
    const a = await d.first();
    await setSecret(a, 'token', 'old');
    await ok(a, ['sync']);
    const b = await d.join(a, 'b');
    await ok(a, ['secret', 'rm', 'token']);
    await setSecret(b, 'token', 'edited');
    await ok(a, ['sync']);
    await ok(b, ['sync']);
    await ok(a, ['sync']);
    for (const sb of [a, b]) {
      const current = await getSecret(sb, 'token');
      if (current === 'edited') continue;
      // The deletion stood: the edit is the newest version in history, and rollback restores it.
      const versions = JSON.parse((await ok(sb, ['secret', 'history', 'token', '--json'])).stdout) as { versions: Array<{ version: number }> };
      await ok(sb, ['secret', 'rollback', 'token', String(versions.versions[0]!.version)]);
      expect(await getSecret(sb, 'token')).toBe('edited');
    }
  });

  it('device remove: re-encrypted without it (its key fails on the new commit), and it is told what it could read', async () => {
    const a = await d.first();
    await setSecret(a, 'db/password', 'p1');
    const b = await d.join(a, 'b');
    const bKey = await identityOf(b);
    expect(ageDecrypt(d.dir, bKey, d.show('vault.age'))).not.toBeNull();

    const r = await ok(a, ['device', 'remove', 'b']);
    expect(r.stdout.split('\n')).toContain('db/password');
    expect(r.stdout).not.toContain('p1');
    await setSecret(a, 'after/removal', 'new');
    await ok(a, ['sync']);
    const sealed = d.show('vault.age');
    expect(ageDecrypt(d.dir, bKey, sealed)).toBeNull();
    expect(ageDecrypt(d.dir, await identityOf(a), sealed)).toContain('after/removal');
    // The removed device is told why it cannot merge any more.
    const rb = await b.sigil(['sync']);
    expect(rb.code).toBe(12);
    expect(rb.stderr).toContain('removed');
    // A device cannot remove itself (it would lock itself out).
    const self = await a.sigil(['device', 'remove', 'a']);
    expect(self.code).toBe(2);
  });

  it('sync init with the remote unreachable: the vault syncs locally, says the push failed, and the next sync sends it', async () => {
    const sb = await d.plain();
    renameSync(d.remote, `${d.remote}.away`);
    const r = await ok(sb, ['sync', 'init', d.remote, '--name', 'solo']);
    expect(r.stderr).toContain('The first push failed');
    expect((await sb.sigil(['sync'])).code).toBe(14);
    renameSync(`${d.remote}.away`, d.remote);
    await ok(sb, ['sync']);
    expect(d.log().at(-1)).toContain('sigil sync init on solo');
  });

  it('remote unavailable: exit 14 naming git\'s error, and the local vault is exactly as it was', async () => {
    const a = await d.first();
    await setSecret(a, 'k', 'v');
    const paths = sigilPaths(a.env);
    const before = readFileSync(paths.vault);
    renameSync(d.remote, `${d.remote}.away`);
    const r = await a.sigil(['sync']);
    expect(r.code).toBe(14);
    expect(r.stderr).toMatch(/git fetch failed: .*(does not appear to be a git repository|Could not read from remote repository|not found|No such file)/i);
    expect(readFileSync(paths.vault).equals(before)).toBe(true);
    const list = JSON.parse((await ok(a, ['device', 'list', '--json'])).stdout) as { last_ok: boolean; last_summary: string };
    expect(list.last_ok).toBe(false);
    renameSync(`${d.remote}.away`, d.remote);
    await ok(a, ['sync']);
  });

  it('a push the remote refuses: exit 14, nothing local changed, and the next sync goes through', async () => {
    const { a, b } = await diverged();
    const paths = sigilPaths(a.env);
    const before = readFileSync(paths.vault);
    const head = readFileSync(join(paths.dataDir, '.git/refs/heads/main'), 'utf8');
    d.hook('pre-receive', 'echo "refused by policy" >&2; exit 1');
    const r = await a.sigil(['sync']);
    expect(r.code).toBe(14);
    expect(r.stderr).toContain('refused by policy');
    expect(readFileSync(paths.vault).equals(before)).toBe(true);
    expect(readFileSync(join(paths.dataDir, '.git/refs/heads/main'), 'utf8')).toBe(head);
    expect(await getSecret(a, 'from/b')).toBeNull();
    d.hook('pre-receive', null);
    await ok(a, ['sync']);
    expect(await getSecret(a, 'from/b')).toBe('x');
  });

  it('kill -9 during the push: the local vault is as it was, and after a restart the sync completes', async () => {
    const { a, b } = await diverged();
    const paths = sigilPaths(a.env);
    const before = readFileSync(paths.vault);
    const marker = join(d.dir, 'pushing');
    d.hook('pre-receive', `touch ${marker}; sleep 30`);
    const pid = JSON.parse((await ok(a, ['status', '--json'])).stdout).pid as number;
    const syncing = a.sigil(['sync']);
    await eventually(() => existsSync(marker), 20_000);
    process.kill(pid, 'SIGKILL');
    await eventually(() => !running(pid));
    expect((await syncing).code).not.toBe(0);
    d.hook('pre-receive', null);
    expect(readFileSync(paths.vault).equals(before)).toBe(true);

    await recoversAfterKill(a, b);
  });

  it('kill -9 after the remote took the push but before this device applied it: the next sync converges', async () => {
    const { a, b } = await diverged();
    const marker = join(d.dir, 'pushed');
    d.hook('post-receive', `touch ${marker}; sleep 30`);
    const pid = JSON.parse((await ok(a, ['status', '--json'])).stdout).pid as number;
    const syncing = a.sigil(['sync']);
    await eventually(() => existsSync(marker), 20_000);
    process.kill(pid, 'SIGKILL');
    await syncing;
    d.hook('post-receive', null);
    await recoversAfterKill(a, b);
  });

  it('the audit log records syncs with counts, never a value', async () => {
    const a = await d.first();
    const b = await d.join(a, 'b');
    await setSecret(a, 'audited', 'value-never-logged');
    await ok(a, ['sync']);
    await ok(b, ['sync']);
    const entries = await auditUntil(b, (e) => e.some((x) => x.op === 'sync' && String(x.target).includes('received')));
    expect(JSON.stringify(entries)).not.toContain('value-never-logged');
    expect(readFileSync((b as Sandbox).auditPath, 'utf8')).not.toContain('value-never-logged');
  });
});
