import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/sandbox.js';

describe('references and --json (a real agent)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/pw', '--stdin'], { input: 'pw-value\n' })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin', '--expires-in', '30d'], { input: 'ghp_refs0123\n' })).code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  // `sigil secret get secret://NAME` was refused though `resolve` takes it.
  it('secret get accepts the secret://NAME reference form', async () => {
    expect(await sb.sigil(['secret', 'get', 'secret://db/pw'])).toMatchObject({ code: 0, stdout: 'pw-value\n' });
    expect((await sb.sigil(['secret', 'get', 'secret://'])).code).toBe(2);
    expect((await sb.sigil(['secret', 'get', 'auth://github/work'])).code).toBe(2);
  });

  // `--json` was missing on resolve and check.
  it('resolve --json and check --json', async () => {
    expect(JSON.parse((await sb.sigil(['resolve', 'secret://db/pw', '--json'])).stdout)).toEqual({ ref: 'secret://db/pw', value: 'pw-value' });
    expect(JSON.parse((await sb.sigil(['check', 'auth://github/work', '--json'])).stdout)).toEqual({ ref: 'auth://github/work', ok: true });
    const missing = await sb.sigil(['check', 'secret://db/nope', '--json']);
    expect(missing.code).toBe(7);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ref: 'secret://db/nope', ok: false, code: 'NOT_FOUND' });
    const bad = await sb.sigil(['check', 'secret://db//x', '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
  });

  // JSON times mixed ISO strings (created) and Unix seconds (expires_at, last_used).
  it('every time in --json output is Unix seconds', async () => {
    await sb.token('github', 'work');
    const now = Date.now() / 1000;
    const [a] = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { created: number; expires_at: number; last_used: number }[];
    expect(Number.isInteger(a!.created) && Math.abs(a!.created - now) < 600).toBe(true);
    expect(a!.expires_at - now).toBeGreaterThan(29 * 86400);
    expect(Number.isInteger(a!.last_used) && Math.abs(a!.last_used - now) < 600).toBe(true);
    const audit = JSON.parse((await sb.sigil(['audit', '--json'])).stdout) as { time: number }[];
    for (const e of audit) expect(typeof e.time === 'number' && Math.abs(e.time - now) < 600).toBe(true);
  });
});
