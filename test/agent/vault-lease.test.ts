import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

describe('one unlocked agent per vault', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox();
  });
  afterEach(() => sb.cleanup());

  it('refuses a second agent on the same vault until the first locks', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const other = join(sb.home, 'other.sock');
    const pid = (await sb.run(BIN.agent, ['-s', '-a', other])).stdout.match(/SIGIL_AGENT_PID=(\d+)/)![1]!;
    sb.track(Number(pid));
    const env = { SIGIL_AUTH_SOCK: other };
    const second = await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE, env });
    expect(second.code).toBe(8);
    expect(second.stderr).toContain('the vault is unlocked by another agent');
    expect(second.stderr).toContain(sb.socket);

    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE, env })).code).toBe(0);
  });

  it('takes over the lease of an agent that died unlocked', async () => {
    const first = await sb.startAgent();
    await sb.initAndUnlock();
    process.kill(first, 'SIGKILL');
    await sb.startAgent();
    const r = await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE });
    expect(r).toMatchObject({ code: 0 });
  });
});
