import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { KEYMAP } from '../../src/tui/keymap.js';
import { fakeAccount, fakeDeps, fakeStatus, KEY, mountApp } from './helpers.js';

const deps = () =>
  fakeDeps({
    status: () => fakeStatus(),
    list_accounts: () => ({ accounts: [fakeAccount('github', 'work')] }),
    audit_tail: () => ({ entries: [{ time: 1735689600, op: 'get_token', target: 'github/work', result: 'ok' }], cursor: 10, start: 0 }),
    list_secrets: () => ({ names: ['api/key'] }),
  });

describe('help overlay and global keys (fake agent)', () => {
  it('? lists every key of every screen; Esc and ? close it', async () => {
    const app = await mountApp(deps());
    try {
      await app.waitFor('github');
      await app.press('?');
      const frame = await app.waitFor('Keys — Esc or ? closes this');
      for (const section of KEYMAP) {
        expect(frame).toContain(section.title);
        for (const [key, what] of section.keys) {
          expect(frame).toContain(key);
          expect(frame).toContain(what);
        }
      }
      expect(frame).not.toContain('SERVICE'); // the overlay replaces the screen
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
      await app.press('?');
      await app.waitFor('Keys —');
      await app.press('?');
      await app.waitFor('SERVICE');
      expect(app.quits).toBe(0);
    } finally {
      await app.unmount();
    }
  });

  it('1, 2, 3 and Tab switch tabs; Esc goes back; q and Ctrl-C quit', async () => {
    const app = await mountApp(deps());
    try {
      await app.waitFor('github');
      await app.press('2');
      await app.waitFor('Audit log  following');
      await app.press('1');
      await app.waitFor('SERVICE');
      await app.press(KEY.tab);
      await app.waitFor('Audit log  following');
      await app.press(KEY.tab);
      await app.waitFor('Secrets  1 ·');
      await app.press(KEY.tab);
      await app.waitFor('SERVICE');
      await app.press('3');
      await app.waitFor('api/key');
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
      await app.press(KEY.tab);
      await app.waitFor('Audit log  following');
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
      await app.press(KEY.enter);
      await app.waitFor('hidden — press t to fetch it');
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
      await app.press('q');
      expect(app.quits).toBe(1);
      await app.press(KEY.ctrlC);
      expect(app.quits).toBe(2);
      await app.press('?', 'q');
      expect(app.quits).toBe(3);
    } finally {
      await app.unmount();
    }
  });

  it('the status bar shows when the agent is gone and comes back', async () => {
    let up = true;
    const d = fakeDeps({
      status: () => {
        if (!up) throw new SigilError(ErrorCode.NO_AGENT, 'the agent at /run/x closed the connection');
        return fakeStatus();
      },
      list_accounts: () => ({ accounts: [] }),
    });
    const app = await mountApp(d);
    try {
      await app.waitFor('UNLOCKED');
      expect(app.lastFrame()).toContain('agent pid 4242 · /run/user/1000/sigilforge/agent.sock');
      expect(app.lastFrame()).toContain('locks in 10m00s');
      up = false;
      await app.waitFor('No agent answers; trying again every second');
      expect(app.lastFrame()).toContain('no agent — reconnecting…');
      up = true;
      await app.waitFor('UNLOCKED');
    } finally {
      await app.unmount();
    }
  });
});
