import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol/codes.js';
import { MAX_EXPIRES_IN_S } from '../../src/protocol/token-rules.js';
import { agentSuite } from './helpers.js';

describe('set_token checks what it stores (real agent)', () => {
  const agent = agentSuite();
  const refused = (args: Record<string, unknown>) => agent.client.request('set_token', { service: 'api', account: 'me', access_token: 'tok', ...args });

  it.each([
    [{ expires_in: 1e308 }, 'expires_in'],
    [{ expires_in: MAX_EXPIRES_IN_S + 1 }, 'expires_in'],
    [{ expires_in: -100 }, 'expires_in'],
    [{ expires_at: 1e308 }, 'expires_at'],
    [{ expires_at: -1 }, 'expires_at'],
    [{ token_type: 'Bearer\r\nX-Evil: 1' }, 'token_type'],
    [{ token_type: '\x1b]0;pwned\x07' }, 'token_type'],
  ])('refuses %o with BAD_REQUEST naming %s, storing nothing', async (args, name) => {
    await expect(refused(args)).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST, message: expect.stringContaining(`"${name}"`) });
    expect((await agent.sb.sigil(['accounts', 'list', '--json'])).stdout).toBe('[]\n');
  });

  it('takes ten years, and a scheme in any case ("bearer" becomes Bearer)', async () => {
    const r = await agent.client.request<{ expires_at: number }>('set_token', { service: 'api', account: 'ten', access_token: 'tok', expires_in: MAX_EXPIRES_IN_S, token_type: 'bearer' });
    expect(r.expires_at).toBeGreaterThan(Date.now() / 1000 + MAX_EXPIRES_IN_S - 60);
    expect((await agent.sb.sigil(['token', 'get', '--format', 'header', 'api', 'ten'])).stdout).toBe('Authorization: Bearer tok\n');
  });

  it('sigil token set --expires-in refuses more than ten years before asking for the token', async () => {
    const r = await agent.sb.sigil(['token', 'set', 'api', 'cli', '--stdin', '--expires-in', '99999999999999d'], { input: 'tok' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--expires-in: "99999999999999d" is more than 10 years');
    const ok = await agent.sb.sigil(['token', 'set', 'api', 'cli', '--stdin', '--expires-in', '3650d'], { input: 'tok' });
    expect(ok.code).toBe(0);
  });
});
