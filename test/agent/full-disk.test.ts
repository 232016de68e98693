/**
 * A failed write is served anyway (issue 10 item 4) — no more. The real agent on a real full
 * disk (a small tmpfs as the data and config directories, filled to the last block): a write
 * that fails leaves memory and disk as they were, the vault and accounts.toml never
 * disagree, a refresh whose rotated refresh token cannot be saved hands nothing out, and
 * deleting still works.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { listenLoopback, type LoopbackHttp } from '../support/loopback-http.js';
import { eventually, TEST_PASSPHRASE, type Sandbox } from '../support/sandbox.js';
import { mountTmpfs, tmpfsSkipReason, type Tmpfs } from '../support/tmpfs.js';
import { running, sandboxEach } from './helpers.js';

const SKIP = tmpfsSkipReason();
if (SKIP) console.warn(`full-disk.test.ts skipped: ${SKIP}`);

describe.skipIf(SKIP)('a full disk (real tmpfs)', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));
  const mounts: Tmpfs[] = [];
  afterEach(() => {
    for (const m of mounts.splice(0)) m.unmount();
  });
  afterAll(() => {
    for (const m of mounts.splice(0)) m.unmount();
  });

  /** Data and config directories on their own tmpfs (one, or two when `config` is given its own). */
  const onTmpfs = (opts: { separateConfig?: boolean } = {}) => {
    const data = mountTmpfs(join(sb.home, 'disk-data'), 1024);
    mounts.push(data);
    let config = data;
    if (opts.separateConfig) mounts.push((config = mountTmpfs(join(sb.home, 'disk-config'), 256)));
    sb.env.XDG_DATA_HOME = join(data.dir, 'data');
    sb.env.XDG_CONFIG_HOME = join(config.dir, 'config');
    return { data, config, accounts: join(config.dir, 'config/sigilforge/accounts.toml') };
  };
  const ok = async (args: string[], input?: string) => {
    const r = await sb.sigil(args, input === undefined ? {} : { input });
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const restart = async (pid: number) => {
    process.kill(pid, 'SIGTERM');
    await eventually(() => !running(pid));
    const next = await sb.startAgent();
    await ok(['unlock', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    return next;
  };

  it('a failed set_secret (ENOSPC) serves the old value, and so does the vault after a restart', async () => {
    const { data } = onTmpfs();
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    await ok(['secret', 'set', 'db/password', '--stdin'], 'old-value');
    data.fill();

    const failed = await sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'new-value-' + 'x'.repeat(5000) });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('could not write the vault: ENOSPC: no space left on device');
    expect(failed.stderr).not.toContain('new-value');
    const created = await sb.sigil(['secret', 'set', 'db/other', '--stdin'], { input: 'y'.repeat(5000) });
    expect(created.code).not.toBe(0);
    expect((await sb.sigil(['secret', 'get', 'db/password'])).stdout).toBe('old-value\n');
    expect((await sb.sigil(['secret', 'get', 'db/other'])).code).toBe(7);
    expect((await sb.sigil(['secret', 'history', 'db/password', '--json'])).stdout).toContain('"versions": []');

    data.drain(); // the agent cannot take its vault lease on a full disk: room to start again
    await restart(pid);
    expect((await sb.sigil(['secret', 'get', 'db/password'])).stdout).toBe('old-value\n');
    expect((await sb.sigil(['secret', 'get', 'db/other'])).code).toBe(7);
  });

  it('a failed set_token leaves accounts.toml unchanged: no account listed without its token', async () => {
    const { data, accounts } = onTmpfs();
    await sb.startAgent();
    await sb.initAndUnlock();
    await ok(['token', 'set', 'github', 'work', '--stdin'], 'ghp_old_token_value');
    const before = readFileSync(accounts);
    data.fill();

    const failed = await sb.sigil(['token', 'set', 'gitlab', 'new', '--stdin'], { input: 'glpat-' + 'z'.repeat(5000) });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('ENOSPC');
    const replaced = await sb.sigil(['token', 'set', 'github', 'work', '--stdin', '--expires-in', '30d'], { input: 'ghp_' + 'n'.repeat(5000) });
    expect(replaced.code).not.toBe(0);

    expect(readFileSync(accounts).equals(before)).toBe(true);
    const listed = JSON.parse((await ok(['accounts', 'list', '--json'])).stdout) as Array<{ service: string; expires_at: unknown }>;
    expect(listed.map((a) => a.service)).toEqual(['github']);
    expect(listed[0]!.expires_at).toBeNull();
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: 'ghp_old_token_value\n' });
    expect((await sb.token('gitlab', 'new')).code).toBe(7); // NOT_FOUND, not "has no access token" (9)
  });

  it('when accounts.toml cannot be written after the vault was, the vault write is undone', async () => {
    const { config, accounts } = onTmpfs({ separateConfig: true });
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    await ok(['token', 'set', 'github', 'work', '--stdin'], 'ghp_old_token_value');
    const before = readFileSync(accounts);
    // The vault has room, accounts.toml has none, nor a reserve it may spend on growing.
    rmSync(join(dirname(accounts), '.accounts.toml.reserve'));
    config.fill();

    const failed = await sb.sigil(['token', 'set', 'gitlab', 'new', '--stdin'], { input: 'glpat-new-token-value' });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`could not write ${accounts}: ENOSPC`);
    const replaced = await sb.sigil(['token', 'set', 'github', 'work', '--stdin', '--expires-in', '30d'], { input: 'ghp_new_token_value' });
    expect(replaced.code).not.toBe(0);
    expect(readFileSync(accounts).equals(before)).toBe(true);
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: 'ghp_old_token_value\n' });

    // What a restart finds: the vault holds the old token and nothing of gitlab/new.
    config.drain();
    await restart(pid);
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: 'ghp_old_token_value\n' });
    expect((await sb.sigil(['resolve', 'auth://gitlab/new'])).code).toBe(7);
    await ok(['token', 'set', 'gitlab', 'new', '--stdin'], 'glpat-new-token-value');
    expect((await sb.token('gitlab', 'new')).stdout).toBe('glpat-new-token-value\n');
  });

  it('deleting still works on a full disk: secrets, their history and accounts', async () => {
    const { data, accounts } = onTmpfs();
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    await ok(['secret', 'set', 'big', '--stdin'], 'b'.repeat(20_000));
    await ok(['secret', 'set', 'big', '--stdin'], 'c'.repeat(20_000)); // and a version in history
    await ok(['secret', 'set', 'keep', '--stdin'], 'kept-value');
    await ok(['token', 'set', 'github', 'work', '--stdin'], 'ghp_token_to_remove');
    data.fill();
    expect((await sb.sigil(['secret', 'set', 'more', '--stdin'], { input: 'm'.repeat(20_000) })).code).not.toBe(0);

    await ok(['secret', 'rm', 'big']);
    expect((await sb.sigil(['secret', 'get', 'big'])).code).toBe(7);
    await ok(['accounts', 'remove', 'github', 'work']);
    expect(readFileSync(accounts, 'utf8')).not.toContain('github');
    expect((await sb.token('github', 'work')).code).toBe(7);
    // Still full (the freed room went back into the reserves), and still deleting.
    await ok(['secret', 'rm', 'keep']);

    data.drain();
    await restart(pid);
    expect(JSON.parse((await ok(['secret', 'list', '--json'])).stdout)).toEqual([]);
    expect((await sb.sigil(['secret', 'history', 'big'])).code).toBe(7);
    expect(JSON.parse((await ok(['accounts', 'list', '--json'])).stdout)).toEqual([]);
  });

  describe('a refresh whose rotated refresh token cannot be saved', () => {
    let provider: LoopbackHttp | undefined;
    afterEach(async () => provider?.close());

    it('hands out no access token, never spends the old refresh token again, and saves the rotated one once there is room', async () => {
      let refreshes = 0;
      const grants: string[] = [];
      provider = await listenLoopback(async (req, res) => {
        let body = '';
        for await (const chunk of req) body += chunk;
        grants.push(new URLSearchParams(body).get('refresh_token') ?? '');
        refreshes++;
        res.writeHead(200, { 'content-type': 'application/json' });
        // A much longer rotated refresh token: the vault must grow to hold it.
        res.end(JSON.stringify({ access_token: `at-${refreshes}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `rt-${refreshes}-` + 'r'.repeat(8000) }));
      });
      const { data } = onTmpfs();
      const configDir = join(sb.env.XDG_CONFIG_HOME!, 'sigilforge');
      await sb.exec('mkdir', ['-p', configDir]);
      await sb.exec('sh', ['-c', `cat > '${configDir}/config.toml'`], {
        input: `[providers.corp]\nauthorization_endpoint = "${provider.baseUrl}/authorize"\ntoken_endpoint = "${provider.baseUrl}/token"\nclient_id = "sigil"\n`,
      });
      await sb.startAgent();
      await sb.initAndUnlock();
      const client = await AgentClient.connect({ socketPath: sb.socket });
      try {
        // An imported OAuth account whose access token has expired: the next use refreshes.
        await client.request('set_token', { service: 'corp', account: 'me', access_token: 'at-0', refresh_token: 'rt-0', expires_at: Math.floor(Date.now() / 1000) - 10 });
      } finally {
        client.close();
      }
      data.fill();

      const failed = await sb.token('corp', 'me');
      expect(failed.code).not.toBe(0);
      expect(failed.stdout).toBe('');
      expect(failed.stderr).toContain('could not write the vault: ENOSPC');
      expect(refreshes).toBe(1);
      expect((await sb.sigil(['resolve', 'auth://corp/me/refresh_token'])).stdout).toBe('rt-0\n');
      // Still full: the rotated answer is held, so the provider is not asked with the spent token.
      expect((await sb.token('corp', 'me')).stdout).toBe('');
      expect(refreshes).toBe(1);

      data.drain();
      expect(await sb.token('corp', 'me')).toMatchObject({ code: 0, stdout: 'at-1\n' });
      expect(grants).toEqual(['rt-0']);
      expect((await sb.sigil(['resolve', 'auth://corp/me/refresh_token'])).stdout).toMatch(/^rt-1-r{8000}\n$/);
      expect(await sb.token('corp', 'me')).toMatchObject({ code: 0, stdout: 'at-1\n' }); // cached, valid for an hour
      expect(refreshes).toBe(1);
    });
  });
});
