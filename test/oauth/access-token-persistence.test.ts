import { beforeEach, describe, expect, it } from 'vitest';
import { credentialKey } from '../../src/protocol/names.js';
import { openVault } from '../../src/stores/vault-store.js';
import { sigilPaths } from '../../src/util/paths.js';
import type { OidcServer } from '../support/oidc-server.js';
import { type Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { restartAgent } from '../agent/helpers.js';
import { oidcSuite, writeConfig } from './flow-helpers.js';

/** The vault's keys for corp/ACCOUNT, read from disk with the passphrase (what a thief of the files would get). */
async function storedCredentials(sb: Sandbox, account: string): Promise<string[]> {
  const store = await openVault(sigilPaths(sb.env), Buffer.from(TEST_PASSPHRASE));
  return store.list(credentialKey('corp', account, ''));
}

/**
 * `[tokens] persist_access_tokens`, against the real OpenID provider: false keeps OAuth access
 * tokens in memory only, so the vault on disk never holds one and the first use after a
 * restart or a lock refreshes; the default stores them, as before.
 */
describe('[tokens] persist_access_tokens', () => {
  const suite = oidcSuite({ provider: { accessTokenTtlS: 3600 } });
  let op: OidcServer;
  let sb: Sandbox;
  beforeEach(() => ({ op, sb } = suite));

  it('stores access tokens by default: a restart serves the stored one without a refresh', async () => {
    expect((await suite.signIn('alice')).code).toBe(0);
    const first = await sb.token('corp', 'alice');
    expect(first.code).toBe(0);
    expect(await storedCredentials(sb, 'alice')).toEqual([credentialKey('corp', 'alice', 'access_token'), credentialKey('corp', 'alice', 'refresh_token')]);
    const refreshes = op.counts.refresh;
    await restartAgent(sb);
    const after = await sb.token('corp', 'alice');
    expect(after.stdout).toBe(first.stdout);
    expect(op.counts.refresh).toBe(refreshes);
  });

  it('false: the access token never reaches the vault, and restart and lock each cost one refresh', async () => {
    writeConfig(sb, `[tokens]\npersist_access_tokens = false\n\n[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\nscopes = ["openid"]\n`);
    await restartAgent(sb);
    expect((await suite.signIn('bob')).code).toBe(0);
    const refreshes = op.counts.refresh;
    // Served from memory while the agent lives: no refresh for the sign-in's own token.
    const first = await sb.token('corp', 'bob');
    expect(first.code).toBe(0);
    expect((await sb.token('corp', 'bob')).stdout).toBe(first.stdout);
    expect(op.counts.refresh).toBe(refreshes);
    expect(await storedCredentials(sb, 'bob')).toEqual([credentialKey('corp', 'bob', 'refresh_token')]);

    await restartAgent(sb);
    const afterRestart = await sb.token('corp', 'bob');
    expect(afterRestart.code).toBe(0);
    expect(afterRestart.stdout).not.toBe(first.stdout);
    expect(op.counts.refresh).toBe(refreshes + 1);
    // The refresh rotated the refresh token (stored) and still stored no access token.
    expect(await storedCredentials(sb, 'bob')).toEqual([credentialKey('corp', 'bob', 'refresh_token')]);

    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);
    expect((await sb.token('corp', 'bob')).code).toBe(0);
    expect(op.counts.refresh).toBe(refreshes + 2);
  });

  it('false: a static token is stored all the same (nothing could refresh it)', async () => {
    writeConfig(sb, `[tokens]\npersist_access_tokens = false\n`);
    await restartAgent(sb);
    expect((await sb.sigil(['token', 'set', 'corp', 'carol', '--stdin'], { input: 'static-token-value\n' })).code).toBe(0);
    expect(await storedCredentials(sb, 'carol')).toEqual([credentialKey('corp', 'carol', 'access_token')]);
    await restartAgent(sb);
    expect((await sb.token('corp', 'carol')).stdout).toBe('static-token-value\n');
  });
});
