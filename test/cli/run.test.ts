import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASK, MaskingStream, SecretMasker } from '../../src/cli/secret-masker.js';
import { BIN, Sandbox, eventually } from '../support/sandbox.js';

const SECRET = 'hunter2-correct-horse-battery';
const TOKEN = 'ghp_Z9tokenValue42';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** `sigil run -- node -e SCRIPT`: the child is plain node, so the tests need no shell quoting. */
const runNode = (sb: Sandbox, script: string, opts: { env?: Record<string, string>; input?: string; pre?: string[] } = {}) =>
  sb.sigil(['run', ...(opts.pre ?? []), '--', process.execPath, '-e', script], opts);

describe('sigil run', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/pw', '--stdin'], { input: SECRET })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    expect((await sb.sigil(['secret', 'set', 'short', '--stdin'], { input: 'on' })).code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('gives the child the resolved values in its environment, never on its command line', async () => {
    const script = `
      const e = process.env;
      console.log(JSON.stringify({
        db: require('crypto').createHash('sha256').update(e.DB).digest('hex'),
        tok: require('crypto').createHash('sha256').update(e.TOK).digest('hex'),
        tokLen: e.TOK.length, plain: e.PLAIN, other: e.OTHER,
        onArgv: process.argv.some((a) => a.includes(e.DB)),
      }));`;
    const r = await runNode(sb, script, {
      env: { DB: 'secret://db/pw', TOK: '  auth://github/work\t', PLAIN: 'not a ref: secret://db/pw', OTHER: 'op://vault/item' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ db: sha(SECRET), tok: sha(TOKEN), tokLen: TOKEN.length, plain: 'not a ref: secret://db/pw', other: 'op://vault/item', onArgv: false });
    // The agent saw one resolve per reference, from one client.
    await eventually(() => sb.auditEntries().filter((e) => e.op === 'resolve').length >= 2);
    const resolves = sb.auditEntries().filter((e) => e.op === 'resolve');
    expect(resolves.map((e) => e.target).sort()).toEqual(['auth://github/work/access_token', 'secret://db/pw']);
  });

  it('masks values printed whole, twice, on stderr, and split across writes', async () => {
    const script = `
      const { DB, TOK, SHORT } = process.env;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      (async () => {
        process.stdout.write('whole: ' + DB + '\\n');
        process.stdout.write('twice: ' + DB + DB + ' and ' + TOK + '\\n');
        process.stderr.write('on stderr: ' + TOK + '\\n');
        process.stdout.write('pieces: ');
        for (let i = 0; i < DB.length; i += 2) { process.stdout.write(DB.slice(i, i + 2)); await sleep(15); }
        process.stdout.write(' end\\n');
        process.stderr.write('err pieces: ');
        for (let i = 0; i < TOK.length; i += 3) { process.stderr.write(TOK.slice(i, i + 3)); await sleep(15); }
        process.stderr.write('\\n');
        process.stdout.write('short: ' + SHORT + ', prefix only: ' + DB.slice(0, 6) + '\\n');
        process.stdout.write('last: ' + DB);
      })();`;
    const r = await runNode(sb, script, { env: { DB: 'secret://db/pw', TOK: 'auth://github/work', SHORT: 'secret://short' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [`whole: ${MASK}`, `twice: ${MASK}${MASK} and ${MASK}`, `pieces: ${MASK} end`, `short: on, prefix only: ${SECRET.slice(0, 6)}`, `last: ${MASK}`].join('\n'),
    );
    expect(r.stderr).toBe(`on stderr: ${MASK}\nerr pieces: ${MASK}\n`);
  });

  it('--no-masking passes the output through untouched', async () => {
    const r = await runNode(sb, `console.log(process.env.DB); console.error(process.env.DB)`, { env: { DB: 'secret://db/pw' }, pre: ['--no-masking'] });
    expect(r).toMatchObject({ code: 0, stdout: `${SECRET}\n`, stderr: `${SECRET}\n` });
  });

  it('inherits stdin', async () => {
    const r = await runNode(sb, `process.stdin.pipe(process.stdout)`, { env: { DB: 'secret://db/pw' }, input: `in: ${SECRET}!` });
    expect(r).toMatchObject({ code: 0, stdout: `in: ${MASK}!` });
  });

  it('reads --env-file: comments, export, quotes; files override the environment, later files earlier ones', async () => {
    const first = join(sb.home, 'first.env');
    const second = join(sb.home, 'second.env');
    writeFileSync(
      first,
      [
        '# a comment',
        '',
        'DB=secret://db/pw',
        'export TOK = "auth://github/work"  # the token',
        "SINGLE='literal \\n # kept'",
        'DOUBLE="line1\\nline2 \\"q\\""',
        'HASH=abc#def # comment',
        'MULTI="a',
        'b"',
        'OVERRIDDEN=first',
        'FROM_ENV=file',
        '   INDENTED=yes\r',
        'EMPTY=',
      ].join('\n'),
    );
    writeFileSync(second, 'OVERRIDDEN=second\nREF2 = secret://db/pw\n');
    const script = `
      const e = process.env, h = (s) => require('crypto').createHash('sha256').update(s).digest('hex');
      console.log(JSON.stringify({ db: h(e.DB), tok: h(e.TOK), ref2: h(e.REF2), single: e.SINGLE, double: e.DOUBLE, hash: e.HASH,
        multi: e.MULTI, overridden: e.OVERRIDDEN, fromEnv: e.FROM_ENV, indented: e.INDENTED, empty: e.EMPTY }));`;
    const r = await runNode(sb, script, { env: { FROM_ENV: 'env' }, pre: ['--env-file', first, '--env-file', second] });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      db: sha(SECRET),
      tok: sha(TOKEN),
      ref2: sha(SECRET),
      single: 'literal \\n # kept',
      double: 'line1\nline2 "q"',
      hash: 'abc#def',
      multi: 'a\nb',
      overridden: 'second',
      fromEnv: 'file',
      indented: 'yes',
      empty: '',
    });
  });

  it('rejects a malformed or missing env file, naming the file and line', async () => {
    const bad = join(sb.home, 'bad.env');
    writeFileSync(bad, `OK=1\n# fine\nthis is not an assignment ${SECRET}\n`);
    const r = await runNode(sb, 'console.log("started")', { pre: ['--env-file', bad] });
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `sigil: ${bad}:3: expected KEY=VALUE\n` });
    const quote = join(sb.home, 'quote.env');
    writeFileSync(quote, `A=1\nB="${SECRET}\n`);
    expect((await runNode(sb, '', { pre: ['--env-file', quote] })).stderr).toBe(`sigil: ${quote}:2: unterminated " quote for B\n`);
  });

  // Node 20 reads any `--env-file X` in its argv, even after the script's name: with the plain
  // `#!/usr/bin/env node` launcher a missing file was Node's error with exit 9 (REAUTH_REQUIRED's).
  it('reports a missing --env-file itself, run through its launcher (not node: exit 9)', async () => {
    const nope = join(sb.home, 'nope.env');
    const missing = await sb.exec(BIN.sigil, ['run', '--env-file', nope, '--', process.execPath, '-e', 'console.log("started")']);
    expect(missing).toMatchObject({ code: 7, stdout: '', stderr: `sigil: cannot read env file ${nope}: no such file\n` });
  });

  it('starts nothing when a reference fails: the error names the variable and the reference', async () => {
    const marker = join(sb.home, 'started');
    const script = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`;
    const missing = await runNode(sb, script, { env: { DB: 'secret://db/pw', NOPE: 'secret://db/nope' } });
    expect(missing.code).toBe(7);
    expect(missing.stderr).toBe('sigil: NOPE: cannot resolve secret://db/nope: no secret named "db/nope"\n');
    expect(missing.stderr).not.toContain(SECRET);
    expect(existsSync(marker)).toBe(false);

    const malformed = await runNode(sb, script, { env: { BAD: 'secret://a//b' } });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('sigil: BAD: invalid reference "secret://a//b": invalid secret name');

    const two = await runNode(sb, script, { env: { A_MISSING: 'auth://github/nobody', B_MISSING: 'secret://nope' } });
    expect(two.code).toBe(7);
    expect(two.stderr).toContain('sigil: 2 references cannot be resolved:\n');
    expect(two.stderr).toContain('  A_MISSING: cannot resolve auth://github/nobody: no account github/nobody');
    expect(two.stderr).toContain('  B_MISSING: cannot resolve secret://nope: no secret named "nope"');
    expect(existsSync(marker)).toBe(false);
  });

  it('exits 9 when the account needs signing in again', async () => {
    expect((await sb.sigil(['token', 'set', 'github', 'old', '--stdin', '--expires-in', '1s'], { input: 'ghp_old' })).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const r = await runNode(sb, 'console.log("started")', { env: { T: 'auth://github/old' } });
    expect(r).toMatchObject({ code: 9, stdout: '' });
    expect(r.stderr).toMatch(/^sigil: T: cannot resolve auth:\/\/github\/old: github\/old has an expired token/);
  });

  it('exits 4 when the agent is locked', async () => {
    expect((await sb.sigil(['lock'])).code).toBe(0);
    try {
      const r = await runNode(sb, 'console.log("started")', { env: { DB: 'secret://db/pw' } });
      expect(r).toMatchObject({ code: 4, stdout: '' });
      expect(r.stderr).toContain('sigil: DB: cannot resolve secret://db/pw: agent is locked');
      // No reference: no agent needed, the command just runs.
      expect(await runNode(sb, 'console.log("started")')).toMatchObject({ code: 0, stdout: 'started\n' });
    } finally {
      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple' })).code).toBe(0);
    }
  });

  it("exits with the child's status, 128+N when a signal ended it, 127 when there is no such command", async () => {
    const env = { DB: 'secret://db/pw' };
    expect((await runNode(sb, 'process.exit(42)', { env })).code).toBe(42);
    expect((await runNode(sb, 'process.kill(process.pid, "SIGKILL")', { env })).code).toBe(128 + 9);
    expect((await runNode(sb, 'process.kill(process.pid, "SIGTERM")', { env, pre: ['--no-masking'] })).code).toBe(128 + 15);
    const none = await sb.sigil(['run', '--', join(sb.home, 'no-such-command')]);
    expect(none).toMatchObject({ code: 127, stderr: `sigil: ${join(sb.home, 'no-such-command')}: command not found\n` });
    expect((await sb.sigil(['run'])).code).toBe(2);
  });

  it('forwards SIGINT, SIGTERM and SIGHUP to the child', async () => {
    const script = `
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { console.log('got ' + s + ' ' + process.env.DB); process.exit(3); });
      console.log('ready'); setInterval(() => {}, 1000);`;
    await Promise.all(
      (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map(async (signal) => {
        const bg = sb.spawnBackground(process.execPath, [BIN.sigil, 'run', '--', process.execPath, '-e', script], { env: { DB: 'secret://db/pw' } });
        await eventually(() => bg.stdout.includes('ready'), 10_000);
        process.kill(bg.pid, signal);
        expect(await bg.exited).toEqual({ code: 3, signal: null });
        expect(bg.stdout).toBe(`ready\ngot ${signal} ${MASK}\n`);
      }),
    );
  });
});

describe('SecretMasker', () => {
  const mask = (values: string[], chunks: string[]) => {
    const m = new SecretMasker(values, '*');
    const out = chunks.map((c) => m.push(Buffer.from(c)).toString()).join('');
    return out + m.flush().toString();
  };

  it('masks a value split at every possible point', () => {
    const text = `a ${SECRET} b ${SECRET}${SECRET} c`;
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(mask([SECRET], [text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe('a * b ** c');
      }
    }
    // One byte at a time.
    expect(mask([SECRET, TOKEN], [...`x${TOKEN}y${SECRET}z`])).toBe('x*y*z');
  });

  it('holds back only what could start a value', () => {
    const m = new SecretMasker(['secret-value'], '*');
    expect(m.push(Buffer.from('prompt> ')).toString()).toBe('prompt> ');
    expect(m.holding).toBe(false);
    expect(m.push(Buffer.from('a sec')).toString()).toBe('a ');
    expect(m.holding).toBe(true);
    expect(m.push(Buffer.from('ond')).toString()).toBe('second');
    expect(m.flush().toString()).toBe('');
  });

  it('masks overlapping values as one region, ignores values under 3 characters, and multi-byte text', () => {
    expect(mask(['abcdef', 'defghi'], ['xxabcdefghiyy'])).toBe('xx*yy');
    expect(mask(['abcdef', 'defghi'], ['xxabcde', 'fghiyy'])).toBe('xx*yy');
    expect(mask(['on', 'ab'], ['on and on, abc'])).toBe('on and on, abc');
    expect(mask(['pässwörd'], ['é pä', 'sswörd é'])).toBe('é * é');
    expect(new SecretMasker(['', 'x', 'yz']).active).toBe(false);
  });

  it('shows a held tail after a quiet spell, and everything at the end', async () => {
    const stream = new MaskingStream(new SecretMasker(['secret-value'], '*'), 30);
    const seen: string[] = [];
    stream.on('data', (d: Buffer) => seen.push(d.toString()));
    stream.write('enter your sec');
    await new Promise((r) => setTimeout(r, 5));
    expect(seen.join('')).toBe('enter your ');
    await eventually(() => seen.join('') === 'enter your sec', 1000, 5);
    stream.end('ret-value? secret-val');
    await new Promise((r) => stream.on('end', r));
    expect(seen.join('')).toBe('enter your secret-value? secret-val');
  });
});
