import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStatusLabel } from '../../src/tui/format.js';
import { Sandbox } from '../support/sandbox.js';
import { fakeAccount, fakeDeps, fakeStatus, KEY, mountApp, realDeps, setToken } from './helpers.js';

/** The line of the frame with the selection mark. */
const selectedLine = (frame: string) => frame.split('\n').find((l) => l.includes('› ')) ?? '';

describe('accounts screen (real agent)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    await setToken(sb, 'github', 'work', 'ghp_0123456789abcdefWXYZ');
    await setToken(sb, 'gitlab', 'ci', 'glpat-abcdefghijklmnop', ['--expires-in', '30m']);
    await setToken(sb, 'slack', 'bot', 'xoxb-1111222233334444');
  });
  afterAll(() => sb.cleanup());

  it('shows the table with every column, moves with j/k and arrows, and never shows a token', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      const frame = await app.waitFor('slack');
      expect(frame).toMatch(/SERVICE\s+ACCOUNT\s+KIND\s+STATUS\s+SCOPES\s+LAST USED/);
      expect(frame).toMatch(/github\s+work\s+static\s+static/);
      expect(frame).toMatch(/gitlab\s+ci\s+static\s+expires in 30m/);
      for (const secret of ['ghp_0123456789abcdefWXYZ', 'glpat-', 'xoxb-', 'WXYZ']) expect(frame).not.toContain(secret);

      expect(selectedLine(app.lastFrame())).toContain('github');
      await app.press('j');
      expect(selectedLine(app.lastFrame())).toContain('gitlab');
      await app.press(KEY.down);
      expect(selectedLine(app.lastFrame())).toContain('slack');
      await app.press(KEY.down); // stays on the last row
      expect(selectedLine(app.lastFrame())).toContain('slack');
      await app.press('k', KEY.up);
      expect(selectedLine(app.lastFrame())).toContain('github');
      await app.press('G');
      expect(selectedLine(app.lastFrame())).toContain('slack');
      await app.press('g');
      expect(selectedLine(app.lastFrame())).toContain('github');
    } finally {
      await app.unmount();
    }
  });

  it('refresh and authorize-again on a static token explain why not', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('github');
      await app.press('r');
      await app.waitFor('github/work is a static token: there is nothing to refresh.');
      await app.press('A');
      await app.waitFor('set it again with sigil token set github work');
      await app.press('a');
      await app.waitFor('add account');
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
    } finally {
      await app.unmount();
    }
  });

  it('removes an account only after y', async () => {
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await app.waitFor('slack');
      await app.press('G', 'd');
      await app.waitFor(/Remove slack\/bot and its credentials\?\s+y\/n/);
      await app.press('n');
      await app.waitFor('Nothing removed.');
      expect(deps.calls.some((c) => c.op === 'remove_account')).toBe(false);
      expect(app.lastFrame()).toContain('slack');

      await app.press('d');
      await app.waitFor('Remove slack/bot');
      await app.press('y');
      await app.waitFor('Removed slack/bot (1 credential)');
      await app.waitFor((f) => !f.includes('slack  '));
      const list = JSON.parse((await app.run(() => sb.sigil(['accounts', 'list', '--json']))).stdout) as { service: string }[];
      expect(list.map((a) => a.service).sort()).toEqual(['github', 'gitlab']);
    } finally {
      await app.unmount();
    }
  });
});

describe('accounts screen (fake agent)', () => {
  it('scrolls a long table: only the rows in the window are drawn', async () => {
    const accounts = Array.from({ length: 100 }, (_, i) => fakeAccount('svc', `acct${String(i).padStart(3, '0')}`));
    const app = await mountApp(fakeDeps({ status: () => fakeStatus(), list_accounts: () => ({ accounts }) }));
    try {
      await app.waitFor('acct000');
      expect(app.lastFrame()).not.toContain('acct099');
      expect(app.lastFrame().split('\n').length).toBeLessThanOrEqual(24);
      await app.press('G');
      await app.waitFor('acct099');
      expect(selectedLine(app.lastFrame())).toContain('acct099');
      expect(app.lastFrame()).not.toContain('acct000');
      await app.press(KEY.pageUp);
      expect(selectedLine(app.lastFrame())).not.toContain('acct099');
    } finally {
      await app.unmount();
    }
  });

  it('labels health as valid / expires in … / refresh due / needs auth / static', () => {
    const now = 1_700_000_000;
    expect(accountStatusLabel(fakeAccount('a', 'b', { expires_at: now + 8 * 3600 }), now).text).toBe('valid');
    expect(accountStatusLabel(fakeAccount('a', 'b', { expires_at: null }), now).text).toBe('valid');
    // A short-lived OAuth token is routine (the agent renews it); a static one running out is not.
    expect(accountStatusLabel(fakeAccount('a', 'b', { expires_at: now + 25 * 60, status: 'valid' }), now)).toEqual({ text: 'valid', tone: 'ok' });
    expect(accountStatusLabel(fakeAccount('a', 'b', { expires_at: now + 4 * 60, status: 'expiring' }), now)).toEqual({ text: 'refresh due', tone: 'dim' });
    expect(accountStatusLabel(fakeAccount('a', 'b', { kind: 'static', expires_at: now + 3 * 86400, status: 'valid' }), now)).toEqual({ text: 'expires in 3d', tone: 'warn' });
    expect(accountStatusLabel(fakeAccount('a', 'b', { kind: 'static', expires_at: now + 25 * 60, status: 'valid' }), now).text).toBe('expires in 25m');
    expect(accountStatusLabel(fakeAccount('a', 'b', { kind: 'static', expires_at: now + 30 * 86400, status: 'valid' }), now)).toEqual({ text: 'valid', tone: 'ok' });
    expect(accountStatusLabel(fakeAccount('a', 'b', { status: 'needs_auth' }), now).text).toBe('needs auth');
    // An account a sync brought, signed in on another device only.
    expect(accountStatusLabel(fakeAccount('a', 'b', { status: 'sign_in_here' }), now)).toEqual({ text: 'sign in on this device', tone: 'bad' });
    expect(accountStatusLabel(fakeAccount('a', 'b', { kind: 'static', status: 'static' }), now).text).toBe('static');
    expect(accountStatusLabel(fakeAccount('a', 'b', { expires_at: now - 1, status: 'expiring' }), now).text).toBe('refresh due');
    expect(accountStatusLabel(fakeAccount('a', 'b', { kind: 'static', expires_at: now - 1, status: 'expired' }), now).text).toBe('expired');
  });
});
