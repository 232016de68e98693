import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

interface History {
  name: string;
  current_updated?: number;
  versions: { version: number; replaced_at: number }[];
}

describe('sigil secret history / rollback (a real agent)', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox();
  });
  afterEach(() => sb.cleanup());

  const set = async (name: string, value: string) => {
    const r = await sb.sigil(['secret', 'set', name, '--stdin'], { input: value });
    expect(r.code, r.stderr).toBe(0);
  };
  const get = async (name: string) => (await sb.sigil(['secret', 'get', name])).stdout;
  const history = async (name: string): Promise<History> => {
    const r = await sb.sigil(['secret', 'history', name, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as History;
  };
  const writeConfig = (text: string) => {
    const dir = join(sb.home, 'config/sigilforge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), text);
  };

  it('keeps the 5 previous versions, newest first, and rolls back (undoably)', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    for (let i = 1; i <= 8; i++) await set('db/prod/password', `value-${i}-never-shown`);
    // A secret whose name extends this one: its history must not mix in.
    await set('db/prod/password/old', 'other-a');
    await set('db/prod/password/old', 'other-b');
    expect(await get('db/prod/password')).toBe('value-8-never-shown\n');

    const h = await history('db/prod/password');
    expect(h.versions.map((v) => v.version)).toEqual([7, 6, 5, 4, 3]);
    // Times are Unix seconds, as everywhere in --json output.
    const now = Date.now() / 1000;
    for (const v of h.versions) expect(Number.isInteger(v.replaced_at) && v.replaced_at <= now && v.replaced_at > now - 600).toBe(true);
    expect(h.current_updated).toBe(h.versions[0]!.replaced_at);
    expect((await history('db/prod/password/old')).versions.map((v) => v.version)).toEqual([1]);

    // Version n holds the value that was replaced n-th: version 4 is value-4.
    const table = await sb.sigil(['secret', 'history', 'db/prod/password']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+REPLACED AT$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['7', '6', '5', '4', '3']);
    expect(lines[1]).toMatch(/^7\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    const rb = await sb.sigil(['secret', 'rollback', 'db/prod/password', '4']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toContain('version 8'); // where the replaced value went
    expect(await get('db/prod/password')).toBe('value-4-never-shown\n');
    // The value that was current is now the newest version; the oldest fell off.
    expect((await history('db/prod/password')).versions.map((v) => v.version)).toEqual([8, 7, 6, 5, 4]);

    // Undo the rollback.
    expect((await sb.sigil(['secret', 'rollback', 'db/prod/password', '8'])).code).toBe(0);
    expect(await get('db/prod/password')).toBe('value-8-never-shown\n');
    expect((await history('db/prod/password')).versions.map((v) => v.version)).toEqual([9, 8, 7, 6, 5]);

    // Pruned, never existed, or not a version at all.
    expect((await sb.sigil(['secret', 'rollback', 'db/prod/password', '3'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'rollback', 'db/prod/password', '99'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'rollback', 'nope', '1'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'history', 'nope'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'rollback', 'db/prod/password', 'x'])).code).toBe(2);
    expect((await sb.sigil(['secret', 'rollback', 'db/prod/password', '0'])).code).toBe(2);
    expect(await get('db/prod/password')).toBe('value-8-never-shown\n');

    // History keys never show up as secrets, and are not values anywhere.
    expect(JSON.parse((await sb.sigil(['secret', 'list', '--json'])).stdout)).toEqual(['db/prod/password', 'db/prod/password/old']);
    const all = (await sb.sigil(['secret', 'history', 'db/prod/password'])).stdout + JSON.stringify(await history('db/prod/password'));
    expect(all).not.toContain('never-shown');
    expect(all).not.toContain(Buffer.from('value-5-never-shown').toString('base64').slice(0, 12));

    // Persisted in the vault: still there after lock / unlock.
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    expect((await history('db/prod/password')).versions.map((v) => v.version)).toEqual([9, 8, 7, 6, 5]);

    const audit = JSON.parse((await sb.sigil(['audit', '--json', '-n', '1000'])).stdout) as { op: string; target?: string; result?: string }[];
    const rollbacks = audit.filter((e) => e.op === 'rollback_secret');
    expect(rollbacks.map((e) => [e.target, e.result])).toEqual([
      ['secret://db/prod/password@4', 'ok'],
      ['secret://db/prod/password@8', 'ok'],
      ['secret://db/prod/password@3', 'NOT_FOUND'],
      ['secret://db/prod/password@99', 'NOT_FOUND'],
      ['secret://nope@1', 'NOT_FOUND'],
    ]);
    expect(audit.some((e) => e.op === 'secret_history' && e.target === 'secret://db/prod/password')).toBe(true);
    expect(readFileSync(sb.auditPath, 'utf8')).not.toContain('never-shown');
  });

  it('rm deletes the history with the secret', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    for (const v of ['a1', 'a2', 'a3']) await set('k', v);
    expect((await history('k')).versions).toHaveLength(2);
    expect((await sb.sigil(['secret', 'rm', 'k'])).code).toBe(0);
    expect((await sb.sigil(['secret', 'history', 'k'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'rollback', 'k', '1'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'list'])).stdout).toBe('');
    expect((await sb.sigil(['secret', 'rm', 'k'])).code).toBe(7);
    // A new secret of the same name starts a new history.
    await set('k', 'b1');
    await set('k', 'b2');
    expect((await history('k')).versions.map((v) => v.version)).toEqual([1]);
    expect((await sb.sigil(['secret', 'rollback', 'k', '1'])).code).toBe(0);
    expect(await get('k')).toBe('b1\n');
  });

  it('keeps none with [secrets] history = 0', async () => {
    writeConfig('[secrets]\nhistory = 0\n');
    await sb.startAgent();
    await sb.initAndUnlock();
    for (const v of ['a1', 'a2', 'a3']) await set('k', v);
    expect(await history('k')).toEqual({ name: 'k', versions: [] });
    const table = await sb.sigil(['secret', 'history', 'k']);
    expect(table.code).toBe(0);
    expect(table.stdout).toBe('');
    expect(table.stderr).toContain('no previous versions');
    expect((await sb.sigil(['secret', 'rollback', 'k', '1'])).code).toBe(7);
    expect(await get('k')).toBe('a3\n');
    expect((await sb.status()).secrets).toBe(1);
  });

  it('rejects a bad [secrets] history', async () => {
    writeConfig('[secrets]\nhistory = -1\n');
    const r = await sb.run(BIN.agent, ['-s']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('secrets.history');
  });

  it('honours a configured history length', async () => {
    writeConfig('[secrets]\nhistory = 2\n');
    await sb.startAgent();
    await sb.initAndUnlock();
    for (const v of ['a1', 'a2', 'a3', 'a4']) await set('k', v);
    expect((await history('k')).versions.map((v) => v.version)).toEqual([3, 2]);
  });

  it('numbers concurrent changes to one secret without gaps or clashes', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await set('k', 'v0');
    await Promise.all(['v1', 'v2', 'v3', 'v4'].map((v) => set('k', v)));
    expect((await history('k')).versions.map((v) => v.version)).toEqual([4, 3, 2, 1]);
  });

  it('answers LOCKED (exit 4) while locked', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await set('k', 'a1');
    await set('k', 'a2');
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['secret', 'history', 'k'])).code).toBe(4);
    expect((await sb.sigil(['secret', 'rollback', 'k', '1'])).code).toBe(4);
  });
});
