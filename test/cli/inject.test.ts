import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/sandbox.js';

const SECRET = 'p@ss wörd "with" $pecial {{chars}}';
const TOKEN = 'ghp_Z9tokenValue42';

const TEMPLATE = [
  '# config for the app: {{ other }} stays',
  'db_password = "{{ secret://db/pw }}"',
  'token = {{auth://github/work}}',
  'header = Bearer {{   auth://github/work/access_token  }}; again {{secret://db/pw}}',
  'unicode ✓ stays',
  '',
].join('\n');
const EXPECTED = TEMPLATE.replaceAll(/\{\{ *secret:\/\/db\/pw *\}\}/g, () => SECRET).replaceAll(/\{\{ *auth:\/\/github\/work(\/access_token)? *\}\}/g, () => TOKEN);

describe('sigil inject', () => {
  let sb: Sandbox;
  let template: string;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/pw', '--stdin'], { input: SECRET })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    template = join(sb.home, 'app.conf.tpl');
    writeFileSync(template, TEMPLATE);
  });
  afterAll(() => sb.cleanup());

  it('writes the filled template to a new 0600 file', async () => {
    expect(EXPECTED).toContain(`db_password = "${SECRET}"`);
    const out = join(sb.home, 'app.conf');
    const r = await sb.sigil(['inject', '-i', template, '-o', out]);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(out, 'utf8')).toBe(EXPECTED);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(sb.home).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('prints to stdout, reading the template from a file or from stdin', async () => {
    expect(await sb.sigil(['inject', '-i', template])).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(await sb.sigil(['inject', '-i', '-'], { input: TEMPLATE })).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(await sb.sigil(['inject', '-o', '-'], { input: 'x={{ secret://db/pw }}' })).toMatchObject({ code: 0, stdout: `x=${SECRET}` });
  });

  it('refuses to replace an existing file without --force', async () => {
    const out = join(sb.home, 'existing.conf');
    writeFileSync(out, 'old content', { mode: 0o644 });
    const r = await sb.sigil(['inject', '-i', template, '-o', out]);
    expect(r).toMatchObject({ code: 8, stderr: `sigil: ${out} already exists; use --force to replace it\n` });
    expect(readFileSync(out, 'utf8')).toBe('old content');
    expect((await sb.sigil(['inject', '-i', template, '-o', out, '--force'])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(EXPECTED);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('writes nothing when a reference fails, and names it with its line', async () => {
    const bad = join(sb.home, 'bad.tpl');
    writeFileSync(bad, `a={{ secret://db/pw }}\n\nb={{ secret://db/missing }}\n`);
    const out = join(sb.home, 'bad.conf');
    const r = await sb.sigil(['inject', '-i', bad, '-o', out]);
    expect(r).toMatchObject({ code: 7, stdout: '', stderr: 'sigil: line 3: cannot resolve secret://db/missing: no secret named "db/missing"\n' });
    expect(existsSync(out)).toBe(false);
    expect((await sb.sigil(['inject', '-i', bad])).stdout).toBe('');

    writeFileSync(bad, `ok\n{{ secret://db/pw }}\n x {{ auth://github }} and {{ secret://has space }}\n`);
    const malformed = await sb.sigil(['inject', '-i', bad, '-o', out]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('sigil: 2 references cannot be resolved:\n  line 3: invalid reference "auth://github"');
    expect(malformed.stderr).toContain('\n  line 3: invalid reference "secret://has space"');
    expect(malformed.stderr).not.toContain(SECRET);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(sb.home).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('exits 4 when the agent is locked, and 2 for an unreadable template', async () => {
    expect((await sb.sigil(['inject', '-i', join(sb.home, 'nope.tpl')])).stderr).toBe(`sigil: cannot read template ${join(sb.home, 'nope.tpl')}: no such file or directory\n`);
    expect((await sb.sigil(['lock'])).code).toBe(0);
    const out = join(sb.home, 'locked.conf');
    const r = await sb.sigil(['inject', '-i', template, '-o', out]);
    expect(r.code).toBe(4);
    expect(existsSync(out)).toBe(false);
    // A template without references needs no agent.
    expect(await sb.sigil(['inject'], { input: 'plain {{ text }}\n' })).toMatchObject({ code: 0, stdout: 'plain {{ text }}\n' });
  });
});
