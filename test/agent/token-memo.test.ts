import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { Sandbox } from '../support/sandbox.js';
import { sandboxEach } from './helpers.js';

/**
 * get_token's hot path remembers the token it last handed out per account. It must never
 * hand out one that changed since: a new value, an expiry, a removal, a lock in between.
 * Every step asks on one connection, in a loop, as a script would.
 */
describe('get_token memo (real agent)', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const set = async (value: string, extra: string[] = []) => {
    const r = await sb.sigil(['token', 'set', 'svc', 'acct', '--stdin', ...extra], { input: value + '\n' });
    expect(r.code, r.stderr).toBe(0);
  };

  it('serves each new value at once, and nothing after a removal or a lock', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const client = await AgentClient.connect({ socketPath: sb.socket });
    const get = async () => (await client.request<{ access_token: string; expires_at: number | null }>('get_token', { service: 'svc', account: 'acct' }));
    try {
      await set('first-value-0001');
      for (let i = 0; i < 3; i++) expect((await get()).access_token).toBe('first-value-0001');
      await set('second-value-0002');
      expect((await get()).access_token).toBe('second-value-0002');
      // Same value, new expiry: the answer says so.
      await set('second-value-0002', ['--expires-in', '30d']);
      const withExpiry = await get();
      expect(withExpiry.access_token).toBe('second-value-0002');
      expect(withExpiry.expires_at).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);
      // Written behind the memo's back through the protocol, on another connection.
      const other = await AgentClient.connect({ socketPath: sb.socket });
      await other.request('set_token', { service: 'svc', account: 'acct', access_token: Buffer.from('third-value-0003') });
      other.close();
      expect((await get()).access_token).toBe('third-value-0003');

      expect((await sb.sigil(['lock'])).code).toBe(0);
      await expect(get()).rejects.toMatchObject({ code: 'LOCKED' });
      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' })).code).toBe(0);
      expect((await get()).access_token).toBe('third-value-0003');

      expect((await sb.sigil(['accounts', 'remove', 'svc', 'acct'])).code).toBe(0);
      await expect(get()).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await set('fourth-value-0004');
      expect((await get()).access_token).toBe('fourth-value-0004');
    } finally {
      client.close();
    }
  });
  it('serves each account its own token when a connection alternates between them', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    for (const [account, value] of [['one', 'value-of-one-0001'], ['two', 'value-of-two-0002']] as const) {
      const r = await sb.sigil(['token', 'set', 'svc', account, '--stdin'], { input: value + '\n' });
      expect(r.code, r.stderr).toBe(0);
    }
    const client = await AgentClient.connect({ socketPath: sb.socket });
    const get = async (account: string) => (await client.request<{ access_token: string }>('get_token', { service: 'svc', account })).access_token;
    try {
      for (let i = 0; i < 4; i++) {
        expect(await get('one')).toBe('value-of-one-0001');
        expect(await get('two')).toBe('value-of-two-0002');
        expect(await get('two')).toBe('value-of-two-0002');
      }
      // An unknown account between two known ones: the last key kept must not answer for it.
      await expect(client.request('get_token', { service: 'svc', account: 'three' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await get('one')).toBe('value-of-one-0001');
    } finally {
      client.close();
    }
  });
});
