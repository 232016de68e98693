import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tildePath } from '../../src/tui/format.js';
import { Sandbox } from '../support/sandbox.js';
import { mountApp, realDeps, setToken } from './helpers.js';

describe('status bar and lock (real agent)', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox();
  });
  afterEach(() => sb.cleanup());

  it('shows lock state, time to auto-lock, pid and socket; polling it does not keep the agent unlocked', async () => {
    const pid = await sb.startAgent(['-t', '2s']);
    await sb.initAndUnlock();
    const app = await mountApp(realDeps(sb));
    try {
      const frame = await app.waitFor('UNLOCKED');
      expect(frame).toMatch(/locks in [12]s/);
      expect(frame).toContain(`agent pid ${pid}`);
      expect(frame).toContain(sb.socket.slice(0, 40));
      // Polled every 150 ms here (status, list_accounts): the agent still locks after 2 s idle.
      await app.waitFor('The agent is locked.', 6000);
      expect(app.lastFrame()).toMatch(/LOCKED\s+agent pid/);
    } finally {
      await app.unmount();
    }
  });

  it('l locks now: the passphrase screen comes back and sigil-token answers locked (exit 4)', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await setToken(sb, 'github', 'work', 'ghp_0123456789abcdefWXYZ');
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('github');
      expect((await app.run(() => sb.token('github', 'work'))).code).toBe(0);
      await app.press('l');
      await app.waitFor('The agent is locked.');
      await app.waitFor('Locked: the agent dropped every decrypted secret.');
      const tok = await app.run(() => sb.token('github', 'work'));
      expect(tok.code).toBe(4);
      expect(tok.stdout).toBe('');
    } finally {
      await app.unmount();
    }
  });

  it('warns of a secret that expires within a week', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const set = await sb.sigil(['secret', 'set', 'api/key', '--stdin', '--expires-in', '3d'], { input: 'temporary' });
    expect(set.code, set.stderr).toBe(0);
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('secrets: 1 expires within a week');
      expect(app.lastFrame()).not.toContain('temporary');
    } finally {
      await app.unmount();
    }
  });

  it('names this device and its last sync when the vault syncs', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const remote = join(sb.home, 'remote.git');
    execFileSync('git', ['init', '--quiet', '--bare', remote]);
    const init = await sb.sigil(['sync', 'init', remote, '--name', 'laptop']);
    expect(init.code, init.stderr).toBe(0);
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor(/device laptop, synced \d+s ago/);
    } finally {
      await app.unmount();
    }
  });

  it('says when the agent is gone and reconnects to a new one', async () => {
    const first = await sb.startAgent();
    await sb.initAndUnlock();
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('UNLOCKED');
      process.kill(first, 'SIGKILL');
      await app.waitFor('no agent — reconnecting…');
      const second = await app.run(() => sb.startAgent());
      await app.waitFor(`agent pid ${second}`);
      expect(app.lastFrame()).toContain('The agent is locked.'); // a new agent starts locked
    } finally {
      await app.unmount();
    }
  });

  it('shows a socket under the home directory as ~/…, and nothing else that way', () => {
    expect(tildePath('/home/ann/.run/sigilforge/agent.sock', '/home/ann')).toBe('~/.run/sigilforge/agent.sock');
    expect(tildePath('/home/anna/agent.sock', '/home/ann')).toBe('/home/anna/agent.sock');
    expect(tildePath('/run/user/1000/sigilforge/agent.sock', '/')).toBe('/run/user/1000/sigilforge/agent.sock');
  });
});
