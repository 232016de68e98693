import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, loginAndConsent, type TestBrowser } from '../support/browser.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import type { Sandbox } from '../support/sandbox.js';
import { makeDue, spawnSigil } from '../oauth/flow-helpers.js';
import { Devices, ok } from './sync-helpers.js';

/**
 * Sign-ins are per device, against the real OpenID provider with refresh-token rotation on
 * (reusing a rotated refresh token revokes the whole grant, as Google, Okta and Auth0 do):
 * were the refresh token synced, the second device's first refresh would sign both out.
 */
describe('sync: sign-ins stay per device', () => {
  let op: OidcServer;
  let browser: TestBrowser;
  let d: Devices;
  beforeAll(async () => {
    op = await startOidcServer({ accessTokenTtlS: 3600 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await op?.close();
  });
  beforeEach(() => {
    d = new Devices(`[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\nscopes = ["openid"]\n`);
  });
  afterEach(() => d.cleanup());

  async function signIn(sb: Sandbox, verb: 'add' | 'authorize', account: string): Promise<void> {
    const cmd = spawnSigil(sb, ['accounts', verb, 'corp', account, '--browser', '--no-open']);
    const [, url] = await cmd.waitFor(/\n {2}(http:\/\/\S+)\n/);
    await loginAndConsent(browser.context, url!, { login: account, decision: 'approve' });
    const r = await cmd.done;
    if (r.code !== 0) throw new Error(`accounts ${verb}: ${r.stderr}`);
  }

  it('authorized on A, synced to B: B must sign in itself; then each refreshes on its own and neither is signed out', async () => {
    const a = await d.first('a');
    await signIn(a, 'add', 'alice');
    await ok(a, ['sync']);
    // The remote never holds a token: only the vault, and it has none of alice's.
    const b = await d.join(a, 'b');

    const onB = await b.token('corp', 'alice');
    expect(onB.code).toBe(9);
    expect(onB.stderr).toContain('sign in on this device: sigil accounts authorize corp alice');
    const list = JSON.parse((await ok(b, ['accounts', 'list', '--json'])).stdout) as Array<{ account: string; status: string }>;
    expect(list.find((x) => x.account === 'alice')?.status).toBe('sign_in_here');
    expect((await ok(b, ['accounts', 'list'])).stdout).toContain('sign in on this device');

    await signIn(b, 'authorize', 'alice');
    const before = op.counts.refresh;
    for (let round = 0; round < 10; round++) {
      for (const sb of [a, b]) {
        await makeDue(sb, 'corp', 'alice');
        const t = await sb.token('corp', 'alice');
        expect(t.code, `round ${round}: ${t.stderr}`).toBe(0);
      }
      // A sync between rounds must not carry either device's rotated token to the other.
      await ok(round % 2 ? a : b, ['sync']);
    }
    expect(op.counts.refresh - before).toBe(20);
    for (const sb of [a, b]) expect((await sb.token('corp', 'alice')).code).toBe(0);

    // Removed on A: gone from B with the next sync, and B's own grant is revoked at the provider too.
    const revocations = op.counts.revocations;
    await ok(a, ['accounts', 'remove', 'corp', 'alice']);
    await ok(a, ['sync']);
    const synced = JSON.parse((await ok(b, ['sync', '--json'])).stdout) as { accounts_removed: string[] };
    expect(synced.accounts_removed).toEqual(['corp/alice']);
    expect(op.counts.revocations - revocations).toBe(2);
    expect((await b.token('corp', 'alice')).code).toBe(7);
  });
});
