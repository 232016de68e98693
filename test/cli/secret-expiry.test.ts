import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentSuite } from '../agent/helpers.js';
import { eventually } from '../support/sandbox.js';

interface Listed {
  name: string;
  expires_at: number | null;
}

/** `sigil secret set --expires-in` against a real agent: list shows it; once past, every reader is told it expired. */
describe('sigil secret set --expires-in (a real agent)', () => {
  const suite = agentSuite();

  const set = async (name: string, value: string, extra: string[] = []) => {
    const r = await suite.sb.sigil(['secret', 'set', name, '--stdin', ...extra], { input: value });
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const listed = async (): Promise<Listed[]> => JSON.parse((await suite.sb.sigil(['secret', 'list', '--long', '--json'])).stdout) as Listed[];

  it('keeps the expiry with the value and shows it in secret list (text and --json)', async () => {
    const before = Math.floor(Date.now() / 1000);
    await set('api/key', 'temporary-key-never-shown', ['--expires-in', '30d']);
    await set('db/password', 'lasting-value');
    const list = await listed();
    expect(list.map((e) => e.name)).toEqual(['api/key', 'db/password']);
    expect(list[1]!.expires_at).toBeNull();
    const at = list[0]!.expires_at!;
    expect(at >= before + 30 * 86400 && at <= Math.ceil(Date.now() / 1000) + 30 * 86400).toBe(true);
    // Plain list stays names, one a line (scripts read it); -l adds the expiry.
    expect((await suite.sb.sigil(['secret', 'list'])).stdout).toBe('api/key\ndb/password\n');
    expect(JSON.parse((await suite.sb.sigil(['secret', 'list', '--json'])).stdout)).toEqual(['api/key', 'db/password']);
    const table = (await suite.sb.sigil(['secret', 'list', '-l'])).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^NAME\s+EXPIRES$/);
    expect(table[1]).toMatch(/^api\/key\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(table[2]).toMatch(/^db\/password\s+-$/);
    expect((await suite.sb.sigil(['secret', 'get', 'api/key'])).stdout).toBe('temporary-key-never-shown\n');
    // A new value without --expires-in does not expire.
    await set('api/key', 'replaced-key');
    expect((await listed())[0]).toEqual({ name: 'api/key', expires_at: null });
    expect((await suite.sb.sigil(['secret', 'list', '-l'])).stdout).toMatch(/^api\/key\s+-$/m);
  });

  it('refuses a bad --expires-in before asking for the value', async () => {
    for (const bad of ['soon', '0', '3651d']) {
      const r = await suite.sb.sigil(['secret', 'set', 'x', '--stdin', '--expires-in', bad], { input: 'never-read' });
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('--expires-in');
    }
    expect((await listed()).map((e) => e.name)).not.toContain('x');
  });

  it('an expired secret answers NOT_FOUND "expired on DATE" to get, resolve, run and inject', async () => {
    await set('short/lived', 'gone-soon-value', ['--expires-in', '1s']);
    // The agent's clock passes the second: polled, not timed.
    await eventually(async () => (await suite.sb.sigil(['secret', 'get', 'short/lived'])).code !== 0);
    const expired = /secret "short\/lived" expired on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;
    const get = await suite.sb.sigil(['secret', 'get', 'short/lived']);
    expect(get.code).toBe(7);
    expect(get.stderr).toMatch(expired);
    const resolve = await suite.sb.sigil(['resolve', 'secret://short/lived']);
    expect(resolve.code).toBe(7);
    expect(resolve.stderr).toMatch(expired);
    const run = await suite.sb.sigil(['run', '--', process.execPath, '-e', 'console.log(process.env.V)'], { env: { V: 'secret://short/lived' } });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(expired);
    const template = join(suite.sb.home, 'app.tpl');
    writeFileSync(template, 'v = {{ secret://short/lived }}\n');
    const inject = await suite.sb.sigil(['inject', '-i', template]);
    expect(inject.code).not.toBe(0);
    expect(inject.stderr).toMatch(expired);
    for (const r of [get, resolve, run, inject]) expect(r.stdout + r.stderr).not.toContain('gone-soon-value');
    // sigil status warns: one expired (api/key's expiry was cleared by its new value).
    await set('soon/gone', 'week-value', ['--expires-in', '3d']);
    const status = await suite.sb.sigil(['status', '--json']);
    expect((JSON.parse(status.stdout) as { secrets_expiring: unknown }).secrets_expiring).toEqual({ expired: 1, soon: 1 });
    expect((await suite.sb.sigil(['status'])).stdout).toMatch(/^secrets: +4 \(1 expired, 1 expires within a week: sigil secret list -l\)$/m);
    expect((await suite.sb.sigil(['secret', 'rm', 'soon/gone'])).code).toBe(0);
    // Still listed, marked expired; setting it again brings it back.
    expect((await suite.sb.sigil(['secret', 'list', '-l'])).stdout).toMatch(/^short\/lived\s+expired \d{4}-/m);
    await set('short/lived', 'fresh-value');
    expect((await suite.sb.sigil(['secret', 'get', 'short/lived'])).stdout).toBe('fresh-value\n');
  });
});
