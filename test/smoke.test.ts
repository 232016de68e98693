import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from './support/sandbox.js';

describe('README quick start', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox();
  });
  afterEach(() => sb.cleanup());

  it('stores a token, serves it, and refuses it once locked', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const set = await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_example_token_value' });
    expect(set.code).toBe(0);
    const tok = await sb.token('github', 'work');
    expect(tok).toMatchObject({ code: 0, stdout: 'ghp_example_token_value\n', stderr: '' });
    expect((await sb.sigil(['lock'])).code).toBe(0);
    const locked = await sb.token('github', 'work');
    expect(locked.code).toBe(4);
    expect(locked.stdout).toBe('');
    expect(locked.stderr).toBe('sigil-token: agent is locked — run: sigil unlock\n');
  });
});
