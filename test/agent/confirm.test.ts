import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfirmBroker } from '../../src/agent/confirm-broker.js';
import type { AuditEvent } from '../../src/agent/audit-log.js';
import { Policy } from '../../src/agent/policy.js';
import { AgentClient } from '../../src/client/agent-client.js';
import { loadConfig } from '../../src/config/config.js';
import { SigilError } from '../../src/protocol/errors.js';
import type { ConfirmPrompt } from '../../src/protocol/results.js';
import { BIN, eventually, Sandbox } from '../support/sandbox.js';
import { auditUntil, fakeCaller, killStrayAgents } from './helpers.js';

/**
 * `confirm = true` in a [[policy]] rule: the person allows each use, as ssh-add -c. Asked
 * through an open TUI (wait_confirm / answer_confirm), else the agent's SIGIL_ASKPASS.
 */

const caller = fakeCaller('/usr/bin/curl');
const never = new Promise<void>(() => {});

async function rejection(p: Promise<unknown>): Promise<SigilError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SigilError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('Policy with confirm', () => {
  it('asks for uses that hand a value out, not for management, and still enforces allow first', () => {
    const p = new Policy([{ account: 'github/*', confirm: true }, { secret: 'db/prod', confirm: true, allow: ['/usr/bin/psql'] }]);
    expect(p.check('get_token', { service: 'github', account: 'work' }, caller)).toEqual({ target: 'github/work' });
    expect(p.check('resolve', { ref: 'auth://github/work/refresh_token' }, caller)).toEqual({ target: 'github/work' });
    expect(p.check('set_token', { service: 'github', account: 'work' }, caller)).toBeUndefined();
    expect(p.check('get_token', { service: 'gitlab', account: 'work' }, caller)).toBeUndefined();
    expect(() => p.check('get_secret', { name: 'db/prod' }, caller)).toThrow(/may only be used by \/usr\/bin\/psql/);
    expect(p.check('get_secret', { name: 'db/prod' }, fakeCaller('/usr/bin/psql'))).toEqual({ target: 'secret://db/prod' });
  });

  it('reads confirm from config.toml and names a wrong entry', () => {
    const dir = new Sandbox();
    try {
      const load = (text: string) => {
        writeFileSync(join(dir.home, 'config.toml'), text);
        return loadConfig(join(dir.home, 'config.toml'));
      };
      expect(load('[[policy]]\naccount = "github/work"\nconfirm = true\n').policy).toEqual([{ account: 'github/work', confirm: true }]);
      expect(() => load('[[policy]]\naccount = "github/work"\nconfirm = "yes"\n')).toThrow(/"policy\[0\]\.confirm" must be true or false/);
      expect(() => load('[[policy]]\naccount = "github/work"\n')).toThrow(/"policy\[0\]" must be allow = \[/);
      expect(() => load('[[policy]]\naccount = "github/work"\nconfirm = false\n')).toThrow(/"policy\[0\]" must be allow = \[/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('ConfirmBroker', () => {
  let audit: AuditEvent[];
  beforeEach(() => {
    audit = [];
  });
  const broker = (opts: { askpass?: string; timeoutMs?: number } = {}) => new ConfirmBroker({ ...opts, audit: (e) => audit.push(e), log: () => {} });
  const req = (target = 'github/work', pid = 4242) => ({ target, op: 'get_token', caller: fakeCaller('/usr/bin/curl', { pid }), client: 'sigil-token' });

  it('refuses when nobody can be asked, and says how to make asking possible', async () => {
    const err = await rejection(broker().ask(req(), never));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toContain('no sigil tui is open and the agent was started without SIGIL_ASKPASS');
    expect(audit).toMatchObject([{ op: 'confirm', target: 'github/work', result: 'no-prompt' }]);
  });

  it('hands questions to a TUI one at a time, shares one answer per process and target, and times out', async () => {
    const b = broker({ timeoutMs: 200 });
    const tuiClosed = never;
    const first = b.waitForPrompt(tuiClosed);
    const a1 = b.ask(req(), never);
    const a2 = b.ask(req(), never); // same process, same account: the same question
    const other = b.ask(req('spotify/me', 7), never);
    const shown = await first;
    expect(shown).toMatchObject({ target: 'github/work', op: 'get_token', client: 'sigil-token', pid: 4242, exe: '/usr/bin/curl', timeout_s: 0 });
    expect(shown.confirm_id).toMatch(/^[0-9a-f]{32}$/);
    const next = b.waitForPrompt(tuiClosed);
    expect(b.answer(shown.confirm_id, true)).toBe(true);
    await a1;
    await a2;
    expect(b.answer(shown.confirm_id, true)).toBe(false); // answered already
    expect((await next).target).toBe('spotify/me');
    // Nobody answers the second: it times out.
    expect((await rejection(other)).message).toBe('use of spotify/me was not confirmed within 0 s');
    expect(audit.map((e) => `${e.target} ${e.result}`)).toEqual(['github/work via tui ok', 'spotify/me via tui timeout']);
  });

  it('refuses when the TUI says no, or closes without answering', async () => {
    const b = broker();
    let close!: () => void;
    const closed = new Promise<void>((r) => (close = r));
    const shown = b.waitForPrompt(never);
    const denied = b.ask(req(), never);
    b.answer((await shown).confirm_id, false);
    expect((await rejection(denied)).message).toBe('use of github/work was refused in sigil tui');

    const shown2 = b.waitForPrompt(closed);
    const abandoned = b.ask(req('spotify/me'), never);
    await shown2;
    close();
    expect((await rejection(abandoned)).message).toBe('sigil tui closed without answering whether spotify/me may be used');
  });

  it('stops asking when the client goes away, and withdraws everything on lock', async () => {
    const b = broker();
    let leave!: () => void;
    const shown = b.waitForPrompt(never); // a TUI that never answers
    const gone = b.ask(req(), new Promise<void>((r) => (leave = r)));
    const queued = b.ask(req('spotify/me'), never);
    expect((await shown).target).toBe('github/work');
    leave();
    expect((await rejection(gone)).message).toBe('the client went away before the use was confirmed');
    // The next question finds no TUI waiting any more and no askpass.
    expect((await rejection(queued)).message).toContain('nobody can be asked');
    expect(audit.map((e) => `${e.target} ${e.result}`)).toEqual(['github/work via tui cancelled', 'spotify/me no-prompt']);

    const b2 = broker();
    const shown2 = b2.waitForPrompt(never);
    const pending = b2.ask(req(), never);
    await shown2;
    b2.cancelAll();
    expect((await rejection(pending)).code).toBe('LOCKED');
  });

  it('runs SIGIL_ASKPASS with the question and SIGIL_ASKPASS_PROMPT=confirm; exit 0 with "" or "yes" allows', async () => {
    const sb = new Sandbox();
    try {
      const log = join(sb.home, 'asked');
      const script = (answer: string, status: number) => {
        const path = join(sb.home, `askpass-${status}-${answer || 'empty'}`);
        writeFileSync(path, `#!/bin/sh\nprintf '%s|%s\\n' "$SIGIL_ASKPASS_PROMPT" "$1" >> ${log}\nprintf '${answer}'\nexit ${status}\n`);
        chmodSync(path, 0o755);
        return path;
      };
      await broker({ askpass: script('', 0) }).ask(req(), never);
      await broker({ askpass: script('yes', 0) }).ask(req(), never);
      expect((await rejection(broker({ askpass: script('no', 0) }).ask(req(), never))).message).toBe('use of github/work was refused');
      expect((await rejection(broker({ askpass: script('', 1) }).ask(req(), never))).code).toBe('FORBIDDEN');
      expect((await rejection(broker({ askpass: join(sb.home, 'missing') }).ask(req(), never))).message).toContain('was not found');
      const asked = readFileSync(log, 'utf8').trim().split('\n');
      expect(asked).toHaveLength(4);
      for (const line of asked) expect(line).toBe('confirm|Allow sigil-token (pid 4242), /usr/bin/curl, to use github/work?');
      expect(audit.map((e) => `${e.target} ${e.result}`)).toEqual([
        'github/work via askpass ok',
        'github/work via askpass ok',
        'github/work via askpass FORBIDDEN',
        'github/work via askpass FORBIDDEN',
        'github/work via askpass FORBIDDEN',
      ]);
    } finally {
      sb.cleanup();
    }
  });
});

describe.runIf(process.platform === 'linux')('confirm = true on a real agent', () => {
  let sb: Sandbox;
  const TOKEN = 'ghp_confirm0123456789abcdef';
  beforeEach(() => {
    sb = new Sandbox();
    const dir = join(sb.home, 'config/sigilforge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), '[[policy]]\naccount = "github/work"\nconfirm = true\n');
  });
  afterEach(() => {
    killStrayAgents(sb);
    sb.cleanup();
  });

  async function setUp(env: Record<string, string> = {}): Promise<void> {
    await sb.startAgent([], env);
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN + '\n' })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'home', '--stdin'], { input: 'ghp_home\n' })).code).toBe(0);
  }

  it('asks the open TUI; yes hands the token out, no refuses with exit 12; other accounts are not asked', async () => {
    await setUp();
    const tui = await AgentClient.connect({ socketPath: sb.socket, clientName: 'sigil-tui' });
    try {
      let question = tui.request<ConfirmPrompt>('wait_confirm', {}, { timeoutMs: 0 });
      const allowed = sb.token('github', 'work');
      const q = await question;
      expect(q).toMatchObject({ target: 'github/work', client: 'sigil-token' });
      expect(q.exe).toBe(realpathSync(process.execPath)); // the peer's executable, as SO_PEERCRED saw it
      expect(q.pid).toBeGreaterThan(1);
      // Who asks, as policy judges it: the program that ran sigil-token (this test's process).
      expect(q).toMatchObject({ via: ['sigil-token'], program: expect.stringMatching(/^\//) });
      expect(q.chain[0]).toBe('sigil-token');
      expect(q.chain[1]).toBe(q.program);
      question = tui.request('wait_confirm', {}, { timeoutMs: 0 });
      expect(await tui.request('answer_confirm', { confirm_id: q.confirm_id, allow: true })).toEqual({ answered: true });
      expect(await allowed).toMatchObject({ code: 0, stdout: TOKEN + '\n' });

      const refused = sb.token('github', 'work');
      const q2 = await question;
      expect(q2.confirm_id).not.toBe(q.confirm_id);
      await tui.request('answer_confirm', { confirm_id: q2.confirm_id, allow: false });
      const r = await refused;
      expect(r).toMatchObject({ code: 12, stdout: '', stderr: 'sigil-token: use of github/work was refused in sigil tui\n' });

      // Not under the rule: served without a question.
      expect(await sb.token('github', 'home')).toMatchObject({ code: 0, stdout: 'ghp_home\n' });
      // A stale answer is told so.
      await expect(tui.request('answer_confirm', { confirm_id: q2.confirm_id, allow: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const entries = await auditUntil(sb, (es) => es.filter((e) => e.op === 'confirm').length >= 2);
      const confirms = entries.filter((e) => e.op === 'confirm');
      expect(confirms.map((e) => `${e.target} ${e.result}`)).toEqual(['github/work via tui ok', 'github/work via tui FORBIDDEN']);
      expect(JSON.stringify(entries)).not.toContain(TOKEN);
    } finally {
      tui.close();
    }
  });

  it('with no TUI open runs the agent\'s SIGIL_ASKPASS, and refuses without one', async () => {
    const flag = join(sb.home, 'allow');
    const askpass = join(sb.home, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\n[ "$SIGIL_ASKPASS_PROMPT" = confirm ] && [ -e ${flag} ]\n`);
    chmodSync(askpass, 0o755);
    await setUp({ SIGIL_ASKPASS: askpass });
    expect(await sb.token('github', 'work')).toMatchObject({ code: 12, stderr: 'sigil-token: use of github/work was refused\n' });
    writeFileSync(flag, '');
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: TOKEN + '\n' });
    // `sigil run` resolves through the same check.
    const run = await sb.sigil(['run', '--no-masking', '--', 'sh', '-c', 'printf %s "$T"'], { env: { T: 'auth://github/work' } });
    expect(run).toMatchObject({ code: 0, stdout: TOKEN });
  });

  it('refuses at once when nobody can be asked', async () => {
    await setUp();
    const r = await sb.run(BIN.token, ['github', 'work']);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('needs confirmation (confirm = true in config.toml), but nobody can be asked');
  });

  it('withdraws the question when the agent locks, and the requester hears LOCKED', async () => {
    await setUp();
    const tui = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const question = tui.request('wait_confirm', {}, { timeoutMs: 0 });
      const pending = sb.token('github', 'work');
      await question;
      expect((await sb.sigil(['lock'])).code).toBe(0);
      expect(await pending).toMatchObject({ code: 4, stdout: '' });
      await eventually(async () => (await sb.status()).locked === true);
    } finally {
      tui.close();
    }
  });
});
