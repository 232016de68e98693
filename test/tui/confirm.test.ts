import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox } from '../support/sandbox.js';
import { KEY, mountApp, realDeps, setToken } from './helpers.js';

/**
 * `confirm = true`: an open TUI is where the agent asks. The question covers whatever screen
 * is open, y allows, n or Esc denies, and the client waiting on it gets the answer.
 */
describe('the agent asks the TUI (confirm = true, real agent)', () => {
  let sb: Sandbox;
  const TOKEN = 'ghp_tuiConfirm0123456789';
  beforeEach(async () => {
    sb = new Sandbox();
    mkdirSync(join(sb.home, 'config/sigilforge'), { recursive: true });
    writeFileSync(join(sb.home, 'config/sigilforge/config.toml'), '[[policy]]\naccount = "github/work"\nconfirm = true\n');
    await sb.startAgent();
    await sb.initAndUnlock();
    await setToken(sb, 'github', 'work', TOKEN);
  });
  afterEach(() => sb.cleanup());

  it('shows who asks for what; y hands the token out, n refuses; the screen comes back', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor(/github\s+work/);
      // The program asking is the script that ran sigil-token, not the node that runs sigil-token.
      const script = join(sb.home, 'deploy.sh');
      writeFileSync(script, `#!/bin/sh\n${JSON.stringify(process.execPath)} ${JSON.stringify(BIN.token)} github work\nexit $?\n`, { mode: 0o755 });
      const allowed = sb.exec(script, []);
      let frame = await app.waitFor('Allow this use?');
      expect(frame).toMatch(/sigil-token, pid \d+ wants a token of github\/work/);
      expect(frame).toContain(`program: ${script} (via sigil-token)`);
      expect(frame).toMatch(/y\s+allow once · {2}n\s+deny · \d+ s left/);
      expect(frame).not.toContain('SERVICE'); // the question covers the screen
      // Screen keys do nothing while asked: q does not quit, j does not move.
      await app.press('q', 'j');
      expect(app.quits).toBe(0);
      await app.press('y');
      expect(await app.run(() => allowed)).toMatchObject({ code: 0, stdout: `${TOKEN}\n` });
      frame = await app.waitFor((f) => f.includes('SERVICE') && !f.includes('Allow this use?'));

      const refused = sb.token('github', 'work');
      await app.waitFor('Allow this use?');
      await app.press(KEY.esc);
      expect(await app.run(() => refused)).toMatchObject({ code: 12, stdout: '', stderr: 'sigil-token: use of github/work was refused in sigil tui\n' });
      expect(app.lastFrame()).not.toContain(TOKEN);
    } finally {
      await app.unmount();
    }
  });

  it('with the TUI closed again, nobody is asked and the use is refused', async () => {
    const app = await mountApp(realDeps(sb));
    await app.waitFor(/github\s+work/);
    await app.unmount();
    const r = await sb.token('github', 'work');
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('nobody can be asked');
  });
});
