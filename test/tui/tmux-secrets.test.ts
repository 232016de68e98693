import { afterAll, describe, expect, it } from 'vitest';
import { agentSuite } from '../agent/helpers.js';
import { BIN, which } from '../support/sandbox.js';
import { shQuote, TmuxPane } from '../support/tmux.js';

/**
 * The Secrets screen in a real terminal (tmux) against a real agent: a secret typed into the
 * TUI (masked) is what `sigil secret get` prints; revealing it shows it on the alternate
 * screen only, and a lock takes it away. CI must be unset for the TUI (ink draws nothing
 * interactive under CI=true).
 */
const hasTmux = which('tmux');

// q, l and 3 are keys of the TUI: typed into the value field they must stay text.
const VALUE = 'pg-q3l-typed-in-tmux-0123';

describe.skipIf(!hasTmux)('secrets in sigil tui (tmux)', () => {
  const term = new TmuxPane();
  const suite = agentSuite();
  afterAll(() => term.kill());

  const step = (keys: string[], next: RegExp) => term.keysUntil(keys, next);

  it('adds a secret with masked input that sigil secret get then prints; reveal and lock', async () => {
    const { sb } = suite;
    const vars = Object.entries(sb.env)
      .filter(([k]) => k !== 'TERM')
      .map(([k, v]) => `${k}=${shQuote(v)}`)
      .join(' ');
    term.start(`env -u CI ${vars} HISTFILE=/dev/null PS1='$ ' bash --norc --noprofile`);
    await term.waitScreen(/^\$\s*$/m);
    term.shell(`node ${BIN.sigil} tui; echo EXIT=$?`);
    await term.waitScreen(/No accounts yet/);
    await step(['3'], /No secrets yet/);
    await step(['a'], /Name:/);
    term.type('db/prod/password');
    await step(['Enter'], /Value:/);
    term.type(VALUE);
    await term.waitScreen(new RegExp(`Value: •{${VALUE.length}}`));
    expect(term.screen()).not.toContain(VALUE);
    await step(['Enter'], /Expires in:/);
    term.type('30d');
    await step(['Enter'], /Stored db\/prod\/password\. It expires/);
    await term.waitScreen(/› db\/prod\/password\s+—\s+in 30d/);
    expect(term.screen()).toMatch(/value\s+••••••••/);

    const get = await sb.sigil(['secret', 'get', 'db/prod/password']);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe(VALUE + '\n');

    await step(['v'], new RegExp(`value\\s+${VALUE}`));
    await step(['l'], /The agent is locked\./);
    expect(term.screen()).not.toContain(VALUE);
    term.keys('q');
    await term.waitScreen(/EXIT=0/);
    expect(term.flag('alternate_on')).toBe('0');
    // The value was drawn on the alternate screen only: nothing of it on the shell's.
    expect(term.history()).not.toContain(VALUE);
    // The agent audited the reveal (a get_secret by the TUI), with the name and never the value.
    const reveals = sb.auditEntries().filter((e) => e.op === 'get_secret');
    expect(reveals.map((e) => [e.target, e.result])).toEqual([
      ['secret://db/prod/password', 'ok'], // sigil secret get
      ['secret://db/prod/password', 'ok'], // the TUI's reveal
    ]);
    expect(JSON.stringify(sb.auditEntries())).not.toContain(VALUE);
  });
});
