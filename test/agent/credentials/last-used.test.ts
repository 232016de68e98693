import { afterEach, describe, expect, it } from 'vitest';
import { AccountRegistry } from '../../../src/agent/credentials/account-registry.js';
import { sigilPaths } from '../../../src/util/paths.js';
import { eventually, Sandbox } from '../../support/sandbox.js';
import { restartAgent } from '../helpers.js';

/**
 * Last used survives an agent restart, through the real binaries: accounts.toml keeps it
 * (written at most once a minute per account, so not on every use), and the lock before the
 * agent exits writes the latest use.
 */
describe('last used across an agent restart', () => {
  let sb: Sandbox;
  afterEach(() => sb?.cleanup());

  const lastUsed = async (): Promise<number | null> => {
    const [a] = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { last_used: number | null }[];
    return a!.last_used;
  };
  const onDisk = () => AccountRegistry.load(sigilPaths(sb.env).accounts).get('github', 'work')?.last_used;

  it('shows the last use after a restart, written on shutdown, not per use', async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_static\n' })).code).toBe(0);
    expect(await lastUsed()).toBeNull();

    expect((await sb.token('github', 'work')).code).toBe(0);
    const first = (await lastUsed())!;
    await eventually(() => onDisk() === first);
    // A second use in a later second (within the minute): exact in memory, not written.
    await eventually(() => Math.floor(Date.now() / 1000) > first);
    expect((await sb.token('github', 'work')).code).toBe(0);
    const second = (await lastUsed())!;
    expect(second).toBeGreaterThan(first);
    expect(onDisk()).toBe(first);

    await restartAgent(sb);
    expect(onDisk()).toBe(second);
    expect(await lastUsed()).toBe(second);
  });
});
