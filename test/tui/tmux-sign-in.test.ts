import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { BIN, which, type Sandbox } from '../support/sandbox.js';
import { shQuote, sleep, TmuxPane } from '../support/tmux.js';
import { agentWithConfig, fakeGithubProvider, spawnSigil } from '../oauth/flow-helpers.js';

/**
 * The sign-in URL in a real terminal (tmux, 80 columns): the TUI prints it whole on one line,
 * the terminal soft-wraps it, and `capture-pane -J` (which joins soft-wrapped rows, as a mouse
 * selection does) gives back exactly the URL the agent issued; c puts it on the clipboard
 * (OSC 52, which tmux takes with set-clipboard on). Without a DISPLAY, $BROWSER is run, as
 * `sigil accounts add --browser` runs it. CI must be unset for the TUI (ink draws nothing
 * interactive under CI=true).
 */
const hasTmux = which('tmux');

describe.skipIf(!hasTmux)('the sign-in URL in tmux', () => {
  const term = new TmuxPane();
  let gh: FakeGithub;
  let sb: Sandbox;

  /** A $BROWSER that only writes down the URL it was given: the sign-in stays open. */
  function recordingBrowser(name: string): { cmd: string; url: () => string | null } {
    const cmd = join(sb.home, `${name}.sh`);
    const out = join(sb.home, `${name}.url`);
    writeFileSync(cmd, `#!/bin/sh\nprintf '%s' "$1" > ${shQuote(out)}\n`);
    chmodSync(cmd, 0o700);
    return { cmd, url: () => (existsSync(out) ? readFileSync(out, 'utf8') : null) };
  }

  async function until<T>(read: () => T | null, what: string, timeoutMs = 8000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = read();
      if (v !== null) return v;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; the pane:\n${term.history()}`);
      await sleep(30);
    }
  }

  const step = (keys: string[], next: RegExp) => term.keysUntil(keys, next);

  beforeAll(async () => {
    gh = await startFakeGithub();
    sb = await agentWithConfig(fakeGithubProvider(gh));
  });

  afterAll(async () => {
    term.kill();
    sb?.cleanup();
    await gh?.close();
  });

  it('prints the URL whole (capture-pane -J gives it back at 80 columns), c copies it, and $BROWSER runs without a DISPLAY as in the CLI', async () => {
    const tuiBrowser = recordingBrowser('tui-browser');
    const vars = Object.entries({ ...sb.env, BROWSER: tuiBrowser.cmd })
      .filter(([k]) => k !== 'TERM')
      .map(([k, v]) => `${k}=${shQuote(v)}`)
      .join(' ');
    term.start(`env -u CI -u DISPLAY -u WAYLAND_DISPLAY -u SSH_CONNECTION -u SSH_TTY ${vars} HISTFILE=/dev/null PS1='$ ' bash --norc --noprofile`, 80, 24);
    term.tmux('set-option', '-g', 'set-clipboard', 'on');
    await term.waitScreen(/^\$\s*$/m);
    term.shell(`node ${BIN.sigil} tui; echo EXIT=$?`);
    await term.waitScreen(/No accounts yet/);
    await step(['a'], /› github/);
    await step(['Enter'], /Account name for github:/);
    term.type('work');
    await step(['Enter'], /Scopes:/);
    // No display: the device flow comes first; the browser one is above it.
    await step(['Enter'], /› device code/);
    await step(['Up'], /› browser/);
    await step(['Enter'], /Opened your browser|Sign in to github by visiting/);

    const url = await until(tuiBrowser.url, 'URL from $BROWSER');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\/oauth\/authorize\?.*client_id=Iv1\.sigiltest/);
    expect(url.length).toBeGreaterThan(2 * 80); // it really wraps, over three rows or more
    await term.waitScreen(/Opened your browser to sign in to github/);
    // The line is drawn once its rows are reserved, a frame later.
    const joined = await until(() => {
      const lines = term.tmux('capture-pane', '-p', '-J', '-t', 't').split('\n');
      return lines.some((l) => l.trim() === url) ? lines : null;
    }, 'the URL joined on one line');
    expect(joined.filter((l) => l.includes('127.0.0.1'))).toEqual([` ${url}`]);
    const screen = term.screen();
    // The rows the wrap added were taken from the layout: the tab bar is still on the first
    // row, the status bar on the last, nothing scrolled away.
    const rows = screen.replace(/\n$/, '').split('\n');
    expect(rows).toHaveLength(24);
    expect(rows[0]).toMatch(/Sigilforge/);
    expect(rows[23]).toMatch(/UNLOCKED/);

    term.keys('c');
    await term.waitScreen(/Copied the sign-in URL/);
    expect(term.tmux('show-buffer')).toBe(url);

    term.keys('Escape');
    await term.waitScreen(/Sign-in cancelled/);

    // The CLI, same environment: it runs $BROWSER too, with the same kind of URL.
    const cliBrowser = recordingBrowser('cli-browser');
    const cli = spawnSigil(sb, ['accounts', 'add', 'github', 'cli', '--browser'], { BROWSER: cliBrowser.cmd });
    await cli.waitFor(/Opened your browser to sign in to github/);
    const cliUrl = await until(cliBrowser.url, 'URL from the CLI\'s $BROWSER');
    expect(cliUrl.replace(/[?&](state|code_challenge|redirect_uri)=[^&]*/g, '')).toBe(url.replace(/[?&](state|code_challenge|redirect_uri)=[^&]*/g, ''));
    cli.child.kill('SIGINT');
    expect((await cli.done).code).toBe(130);
  });
});
