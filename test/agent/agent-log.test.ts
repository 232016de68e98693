/**
 * The background agent's log went nowhere: started by `eval "$(sigil-agent)"`, its stderr was
 * /dev/null, so a keyring problem or a failed background refresh left no trace. It now goes
 * to $XDG_STATE_HOME/sigilforge/agent.log (src/agent/agent-log.ts), rotated, and `sigil logs`
 * prints it.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileLogger, openAgentLog } from '../../src/agent/agent-log.js';
import { internalErrorLine } from '../../src/agent/dispatch.js';
import { BIN, eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { mode, sandboxEach, startSh } from './helpers.js';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sigil-agent\[\d+\]: /;

describe('agent.log rotation (copy, then truncate in place)', () => {
  let dir = '';
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('keeps the live file under the bound and one older file, both 0600, losing no line', () => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-agent-log-'));
    const path = join(dir, 'state', 'agent.log');
    const fd = openAgentLog(path);
    const log = fileLogger(path, fd, 400);
    const lines = Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(40)}`);
    for (const l of lines) log(l);
    const live = readFileSync(path, 'utf8');
    const old = readFileSync(`${path}.1`, 'utf8');
    expect(Buffer.byteLength(live)).toBeLessThanOrEqual(400);
    expect(Buffer.byteLength(old)).toBeLessThanOrEqual(400);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}.1`)).toBe(0o600);
    expect(mode(join(dir, 'state'))).toBe(0o700);
    // The newest lines, in order, across the two files; each one whole and timestamped.
    const kept = (old + live).split('\n').filter(Boolean);
    expect(kept.map((l) => l.replace(/^\S+ /, ''))).toEqual(lines.slice(-kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(6);
    for (const l of kept) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+Z line \d\d x+$/);
  });

  it('escapes control characters, so a quoted message cannot drive the terminal that shows it', () => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-agent-log-'));
    const path = join(dir, 'agent.log');
    fileLogger(path, openAgentLog(path))('provider said: \x1b]0;owned\x07\nforged line');
    expect(readFileSync(path, 'utf8')).toMatch(/ provider said: \\x1b\]0;owned\\x07\\x0aforged line\n$/);
  });

  it('an internal error is logged by class and place, not by its message (which may quote a secret)', () => {
    let err: unknown;
    try {
      JSON.parse('{"value": hunter2-secret-in-json}');
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toContain('hunter2'); // what the message would have written
    const line = internalErrorLine('set_secret', err);
    expect(line).toMatch(/^internal error in set_secret: SyntaxError\n\s+at JSON\.parse/);
    expect(line).not.toContain('hunter2');
    expect(internalErrorLine('get_token', 'a thrown string')).toBe('internal error in get_token: string');
  });

  it('tightens an existing log file with looser modes', () => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-agent-log-'));
    const path = join(dir, 'agent.log');
    writeFileSync(path, 'old\n', { mode: 0o644 });
    openAgentLog(path);
    expect(mode(path)).toBe(0o600);
  });
});

describe('the background agent logs to agent.log, and sigil logs prints it', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));
  const logPath = () => join(sb.env.XDG_STATE_HOME!, 'sigilforge', 'agent.log');

  it('a daemonized agent writes its start and a failed unlock from the keyring there; sigil logs shows them', async () => {
    // Unlock at login is on, and there is no keyring to ask (no D-Bus session in the sandbox):
    // the agent's attempt at start fails in the background, with nobody watching.
    const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' });
    expect(init.code, init.stderr).toBe(0);
    writeFileSync(join(sb.env.XDG_DATA_HOME!, 'sigilforge', 'unlock-at-login'), '');
    const { pid } = await startSh(sb);
    await eventually(() => existsSync(logPath()) && readFileSync(logPath(), 'utf8').includes('could not unlock from the OS keyring'));
    expect(mode(logPath())).toBe(0o600);
    const text = readFileSync(logPath(), 'utf8');
    for (const l of text.split('\n').filter(Boolean)) expect(l).toMatch(LINE);
    expect(text).toContain(`sigil-agent[${pid}]: listening on ${sb.socket}`);
    expect(text).toMatch(new RegExp(`sigil-agent\\[${pid}\\]: could not unlock from the OS keyring, staying locked: `));

    const r = await sb.sigil(['logs']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(text);
    const last = await sb.sigil(['logs', '-n', '1']);
    expect(last.stdout).toBe(text.split('\n').filter(Boolean).slice(-1)[0] + '\n');
  });

  it('never holds a secret: passphrase, secret values and tokens stay out of it', async () => {
    const { pid } = await startSh(sb);
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'log-canary-secret-value' })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_log_canary_token' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'db/password'])).code).toBe(0);
    expect((await sb.token('github', 'work')).code).toBe(0);
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'a wrong passphrase\n' })).code).toBe(5); // BAD_PASSPHRASE
    process.kill(pid, 'SIGTERM');
    await eventually(() => readFileSync(logPath(), 'utf8').includes('shutting down (SIGTERM)'));
    const text = readFileSync(logPath(), 'utf8');
    expect(text).toContain('unlocked');
    expect(text).toContain('locked (request)');
    for (const secret of [TEST_PASSPHRASE, 'a wrong passphrase', 'log-canary-secret-value', 'ghp_log_canary_token']) expect(text).not.toContain(secret);
  });

  it('sigil logs -n reaches into agent.log.1; with no log at all it says where one would be', async () => {
    const none = await sb.sigil(['logs']);
    expect(none.code).toBe(7); // NOT_FOUND
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(logPath());

    mkdirSync(join(sb.env.XDG_STATE_HOME!, 'sigilforge'), { recursive: true });
    writeFileSync(`${logPath()}.1`, 'one\ntwo\nthree\n');
    writeFileSync(logPath(), 'four\nfive\n');
    expect((await sb.sigil(['logs', '-n', '4'])).stdout).toBe('two\nthree\nfour\nfive\n');
    expect((await sb.sigil(['logs', '-n', '2'])).stdout).toBe('four\nfive\n');
    expect((await sb.sigil(['logs', '-n', '0'])).code).toBe(2);
  });

  it('sigil logs -f prints new lines as they come, across a rotation, each once', async () => {
    mkdirSync(join(sb.env.XDG_STATE_HOME!, 'sigilforge'), { recursive: true });
    writeFileSync(logPath(), 'first\n');
    const follow = sb.spawnBackground(process.execPath, [BIN.sigil, 'logs', '-f']);
    await eventually(() => follow.stdout === 'first\n');
    appendFileSync(logPath(), 'second\n');
    await eventually(() => follow.stdout === 'first\nsecond\n');
    // What the agent does at the bound: a line after our last read, copy to .1, truncate, go on.
    appendFileSync(logPath(), 'third, written just before the rotation\n');
    copyFileSync(logPath(), `${logPath()}.1`);
    truncateSync(logPath(), 0);
    appendFileSync(logPath(), 'fourth\n');
    await eventually(() => follow.stdout.includes('fourth\n'));
    expect(follow.stdout).toBe('first\nsecond\nthird, written just before the rotation\nfourth\n');
    process.kill(follow.pid, 'SIGTERM');
  });
});
