import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskToken } from '../../src/tui/format.js';
import { Sandbox } from '../support/sandbox.js';
import { KEY, mountApp, realDeps, setToken } from './helpers.js';

const TOKEN = 'ghp_0123456789abcdefWXYZ';

describe('details screen (real agent)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    await setToken(sb, 'github', 'work', TOKEN);
  });
  afterAll(() => sb.cleanup());

  it('fetches the token only on t, masked until v, and forgets it on leaving', async () => {
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await app.waitFor('github');
      await app.press(KEY.enter);
      let frame = await app.waitFor('hidden — press t to fetch it');
      expect(frame).toContain('github/work');
      expect(frame).toMatch(/kind\s+static/);
      expect(frame).toMatch(/token type\s+Bearer/);
      expect(deps.calls.some((c) => c.op === 'get_token')).toBe(false);

      await app.press('t');
      frame = await app.waitFor('••••WXYZ');
      expect(frame).not.toContain(TOKEN);
      expect(frame).toContain('(v reveals it)');
      expect(deps.calls.filter((c) => c.op === 'get_token')).toHaveLength(1);

      await app.press('v');
      frame = await app.waitFor(TOKEN);
      expect(frame).toContain('(v hides it)');
      await app.press('v');
      frame = await app.waitFor('••••WXYZ');
      expect(frame).not.toContain(TOKEN);

      await app.press('v', KEY.esc);
      frame = await app.waitFor('SERVICE');
      expect(frame).not.toContain(TOKEN);
      await app.press(KEY.enter);
      frame = await app.waitFor('hidden — press t to fetch it');
      expect(frame).not.toContain('WXYZ');
    } finally {
      await app.unmount();
    }
  });

  it('shows LOCKED instead of a token when the agent is locked under it', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('github');
      await app.press(KEY.enter, 't');
      await app.waitFor('••••WXYZ');
      expect((await app.run(() => sb.sigil(['lock']))).code).toBe(0);
      // The status poll sees the lock: the screen with the token goes away.
      const frame = await app.waitFor('The agent is locked.');
      expect(frame).not.toContain('WXYZ');
    } finally {
      await app.unmount();
    }
  });

  it('masks short tokens completely', () => {
    expect(maskToken('abcdefgh')).toBe('••••');
    expect(maskToken(TOKEN)).toBe('••••WXYZ');
  });
});
