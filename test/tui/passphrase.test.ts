import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/sandbox.js';
import { KEY, lockAgent, mountApp, realDeps, setToken, TEST_PASSPHRASE } from './helpers.js';

describe('passphrase screen (real agent, locked)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    await setToken(sb, 'github', 'work', 'ghp_0123456789abcdefWXYZ');
    await lockAgent(sb);
  });
  afterAll(() => sb.cleanup());

  it('masks what is typed, says wrong passphrase, counts the back-off down (retry_after_s), then unlocks into the accounts', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('The agent is locked.');
      expect(app.lastFrame()).toContain('Passphrase:');
      expect(app.lastFrame()).toContain('LOCKED');

      await app.type('hunter2');
      expect(app.lastFrame()).toContain('Passphrase: •••••••');
      expect(app.lastFrame()).not.toContain('hunter2');
      await app.press(KEY.backspace);
      expect(app.lastFrame()).toContain('Passphrase: ••••••');
      expect(app.lastFrame()).not.toContain('•••••••');

      await app.press(KEY.enter);
      await app.waitFor('Wrong passphrase');
      expect(app.lastFrame()).not.toContain('•'); // cleared for the next try

      // Two more free failures, then the agent answers RATE_LIMITED with its wait.
      for (let i = 0; i < 2; i++) {
        await app.type('nope');
        await app.press(KEY.enter);
        await app.waitFor((f) => f.includes('Wrong passphrase') && !f.includes('Unlocking'));
        await app.idle(50);
      }
      await app.type('nope');
      await app.press(KEY.enter);
      await app.waitFor(/too many wrong passphrases — try again in \d+s/);

      // The wait counts down from the error's retry_after_s (the first back-off step is 1 s).
      await app.waitFor('You can try again now.', 5000);
      await app.type(TEST_PASSPHRASE);
      await app.press(KEY.enter);
      const frame = await app.waitFor('github');
      expect(frame).toContain('SERVICE');
      expect(frame).toContain('UNLOCKED');
      expect(frame).not.toContain(TEST_PASSPHRASE);
      expect(app.quits).toBe(0);
    } finally {
      await app.unmount();
    }
  });

  it('a paste that ends in a newline submits (one input event)', async () => {
    await lockAgent(sb);
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('Passphrase:');
      await app.press(TEST_PASSPHRASE + '\r');
      await app.waitFor('UNLOCKED');
    } finally {
      await app.unmount();
    }
  });

  it('after a lock under the running TUI, the field waits for Enter and q quits', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('UNLOCKED');
      await app.press('l');
      await app.waitFor('Press Enter to type the passphrase');
      await app.press('q');
      expect(app.quits).toBe(1);
      await app.press(KEY.enter);
      await app.type('qq');
      expect(app.lastFrame()).toContain('Passphrase: ••');
      expect(app.quits).toBe(1); // q typed into the field does not quit
      await app.press(KEY.esc);
      await app.waitFor('Press Enter to type the passphrase');
      await app.press(KEY.ctrlC);
      expect(app.quits).toBe(2);
    } finally {
      await app.unmount();
    }
  });

  it('with unlock at login on, k asks the agent to use the OS keyring and shows why it could not', async () => {
    // The marker `sigil unlock --remember` leaves; this agent has no D-Bus session to reach a keyring.
    const marker = join(sb.home, 'data/sigilforge/unlock-at-login');
    mkdirSync(join(sb.home, 'data/sigilforge'), { recursive: true });
    writeFileSync(marker, '{}\n', { mode: 0o600 });
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await app.waitFor('k to use the one remembered in the OS keyring');
      expect(app.lastFrame()).not.toContain('Passphrase:'); // waits for Enter rather than taking the k
      await app.press('k');
      await app.waitFor('no D-Bus session');
      expect(deps.calls.filter((c) => c.op === 'unlock')).toEqual([{ op: 'unlock', args: {} }]);
      expect(app.lastFrame()).toContain('The agent is locked.');
    } finally {
      await app.unmount();
      rmSync(marker, { force: true });
    }
  });
});

describe('no vault yet (real agent)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
  });
  afterAll(() => sb.cleanup());

  it('says to run sigil init instead of asking for a passphrase that can only fail, and follows the agent once there is one', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      const frame = await app.waitFor('No vault yet.');
      expect(frame).toContain('sigil init');
      expect(frame).not.toContain('Passphrase:');
      const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' });
      expect(init.code).toBe(0);
      await app.waitFor('The agent is locked.', 5000);
    } finally {
      await app.unmount();
    }
  });
});
