import { afterEach, beforeEach, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

let sb: Sandbox;
beforeEach(() => {
  sb = new Sandbox();
});
afterEach(() => sb.cleanup());

// Regression: a lock that arrived while an unlock's scrypt was running used to be lost,
// leaving the agent unlocked after the person had asked for it to be locked.
it('a lock that arrives during an unlock wins', async () => {
  await sb.startAgent();
  // A slow scrypt (2^17) leaves time to send the lock while the unlock runs.
  const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '17'], { input: TEST_PASSPHRASE });
  expect(init.code).toBe(0);
  const client = await AgentClient.connect({ socketPath: sb.socket });
  try {
    const unlocking = client.request('unlock', { passphrase: TEST_PASSPHRASE });
    unlocking.catch(() => {});
    await new Promise((r) => setTimeout(r, 30));
    await client.request('lock');
    await expect(unlocking).rejects.toMatchObject({ code: 'LOCKED' });
    expect((await client.request<{ locked: boolean }>('status')).locked).toBe(true);
    // And a later unlock works (the lease was released).
    await client.request('unlock', { passphrase: TEST_PASSPHRASE });
    expect((await client.request<{ locked: boolean }>('status')).locked).toBe(false);
  } finally {
    client.close();
  }
});
