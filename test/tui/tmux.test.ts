import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, Sandbox, TEST_PASSPHRASE, which } from '../support/sandbox.js';
import { shQuote, TmuxPane } from '../support/tmux.js';

/**
 * `sigil tui` in a real terminal (tmux) against a real agent: unlock with the passphrase, see
 * the accounts, lock with the key, quit; then the shell's screen, cursor and tty modes must be
 * exactly as before. Also the other ways out: SIGTERM, SIGHUP, an exception in render and in a
 * timer. CI must be unset for the TUI: ink draws nothing interactive under CI=true.
 */
const term = new TmuxPane();
const tmux = (...args: string[]) => term.tmux(...args);
const pane = () => term.screen();
const flag = (name: string) => term.flag(name);
const waitPane = (what: RegExp, timeoutMs?: number) => term.waitScreen(what, timeoutMs);
const shell = (line: string) => term.shell(line);
const foregroundPid = () => term.foregroundPid();

const hasTmux = which('tmux');

describe.skipIf(!hasTmux)('sigil tui in tmux', () => {
  let sb: Sandbox;
  let n = 0;

  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    const set = await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_0123456789abcdefWXYZ\n' });
    expect(set.code).toBe(0);
    expect((await sb.sigil(['lock'])).code).toBe(0);
    // The sandbox's variables, but the terminal's own TERM (tmux sets it) and no CI.
    const vars = Object.entries(sb.env)
      .filter(([k]) => k !== 'TERM')
      .map(([k, v]) => `${k}=${shQuote(v)}`)
      .join(' ');
    term.start(`env -u CI ${vars} HISTFILE=/dev/null PS1='$ ' bash --norc --noprofile`);
    await waitPane(/^\$\s*$/m);
  });

  afterAll(() => {
    term.kill();
    sb?.cleanup();
  });

  /** Clears the shell's screen, records the tty modes, and captures the pane as it is before. */
  async function before(): Promise<{ text: string; stty: string; tag: string }> {
    const tag = `run${++n}`;
    shell(`clear; stty -g > ${join(sb.home, `${tag}.before`)}; echo READY-${tag}`);
    const text = await waitPane(new RegExp(`^READY-${tag}\\n\\$`, 'm'));
    return { text, stty: join(sb.home, `${tag}.before`), tag };
  }

  /** After the TUI exits: the shell prints its status and records the tty modes again. */
  async function after(b: { text: string; stty: string; tag: string }, status: number): Promise<void> {
    const text = await waitPane(new RegExp(`EXIT-${b.tag}=\\d+`));
    expect(text).toContain(`EXIT-${b.tag}=${status}`);
    expect(flag('alternate_on')).toBe('0');
    expect(flag('cursor_flag')).toBe('1'); // the cursor is visible again
    // The main screen is as it was: what was there before, the command line, its status — and
    // nothing the TUI drew.
    const lines = text.trimEnd().split('\n');
    const beforeLines = b.text.trimEnd().split('\n');
    expect(lines.slice(0, beforeLines.length - 1)).toEqual(beforeLines.slice(0, -1));
    for (const drawn of ['Sigilforge', 'Passphrase', 'SERVICE', 'LOCKED', 'crash fixture']) expect(text).not.toContain(drawn);
    await waitPane(new RegExp(`^DONE-${b.tag}$`, 'm'));
    expect(readFileSync(join(sb.home, `${b.tag}.after`), 'utf8')).toBe(readFileSync(b.stty, 'utf8'));
  }

  function start(b: { tag: string }, program = `node ${BIN.sigil} tui`): void {
    shell(`${program}; echo EXIT-${b.tag}=$?; stty -g > ${join(sb.home, `${b.tag}.after`)}; echo DONE-${b.tag}`);
  }

  it('refuses to start without a terminal (usage error, nothing drawn)', async () => {
    const r = await sb.sigil(['tui']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sigil: sigil tui needs a terminal (stdin and stdout must be a TTY)\n');
    expect(r.stdout).toBe('');
  });

  it('unlocks, shows the accounts, follows a resize, locks with l, and q restores the terminal', async () => {
    const b = await before();
    start(b);
    await waitPane(/Passphrase:/);
    expect(flag('alternate_on')).toBe('1');
    tmux('send-keys', '-t', 't', '-l', TEST_PASSPHRASE);
    await waitPane(/Passphrase: •{28}/);
    expect(pane()).not.toContain(TEST_PASSPHRASE);
    tmux('send-keys', '-t', 't', 'Enter');
    let text = await waitPane(/github\s+work\s+static\s+static/);
    expect(text).toMatch(/SERVICE\s+ACCOUNT\s+KIND\s+STATUS\s+SCOPES\s+LAST USED/);
    expect(text.split('\n')[29]).toMatch(/UNLOCKED\s+locks in/); // the status bar on the last row

    tmux('resize-window', '-t', 't', '-x', '100', '-y', '24');
    text = await waitPane(/^ UNLOCKED .*$/m);
    await waitPane(/github\s+work/);
    expect(pane().trimEnd().split('\n').length).toBeLessThanOrEqual(24);
    expect(pane().split('\n')[23]).toMatch(/UNLOCKED/);
    tmux('resize-window', '-t', 't', '-x', '120', '-y', '30');
    await waitPane(/github\s+work/);

    tmux('send-keys', '-t', 't', 'l');
    await waitPane(/The agent is locked\./);
    const tok = await sb.token('github', 'work');
    expect(tok.code).toBe(4);
    expect(tok.stdout).toBe('');

    tmux('send-keys', '-t', 't', 'q');
    await after(b, 0);
  });

  it('Ctrl-C quits with status 0', async () => {
    const b = await before();
    start(b);
    await waitPane(/Passphrase:/);
    tmux('send-keys', '-t', 't', 'C-c');
    await after(b, 0);
  });

  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} restores the terminal (exit ${status})`, async () => {
      const b = await before();
      start(b);
      await waitPane(/Passphrase:/);
      process.kill(foregroundPid(), signal);
      await after(b, status);
    });
  }

  const failures: Record<string, string> = { render: 'render', timer: 'a timer', reject: 'a promise' };
  for (const [how, where] of Object.entries(failures)) {
    it(`an exception in ${where} restores the terminal, then reports it (exit 1)`, async () => {
      const b = await before();
      start(b, `node ${join(ROOT, 'test/tui/fixtures/crash.mjs')} ${how}`);
      // The report comes after the restore, on the main screen, between the command and its status.
      const text = await waitPane(new RegExp(`EXIT-${b.tag}=\\d+`));
      expect(text).toContain(`sigil tui: Error: boom in ${where}`);
      await after(b, 1);
    });
  }
});
