import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REMOTE_USER, sshdUnavailable, startSshd, type Sshd } from '../support/sshd.js';
import { Devices, getSecret, ok, secretNames, setSecret } from './sync-helpers.js';

const unavailable = sshdUnavailable();

/**
 * Sync with the remote reached over ssh, as `git@host:me/vault.git` is: Debian's sshd on
 * 127.0.0.1 (started and stopped by PID), the bare repository owned by the remote user, and
 * the person's ssh command given to git as GIT_SSH_COMMAND in the agent's environment.
 */
describe.skipIf(unavailable !== null)('sync over ssh (a real sshd)', () => {
  let sshd: Sshd;
  let repoDir: string;
  let d: Devices;

  beforeAll(async () => {
    sshd = await startSshd();
    repoDir = mkdtempSync(join(tmpdir(), 'sigil-sync-ssh-'));
    chmodSync(repoDir, 0o755);
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch', 'main', join(repoDir, 'vault.git')]);
    execFileSync('chown', ['-R', `${REMOTE_USER}:${REMOTE_USER}`, join(repoDir, 'vault.git')]);
    d = new Devices();
  }, 60_000);

  afterAll(async () => {
    d?.cleanup();
    rmSync(repoDir, { recursive: true, force: true });
    await sshd?.stop();
  });

  it('init, join and offline edits on both devices, all through ssh', async () => {
    // The port goes in the URL, as a person's would; the rest is their ssh command.
    const opts = sshd.sshOptions.filter((o, i, all) => o !== '-p' && all[i - 1] !== '-p');
    const env = { GIT_SSH_COMMAND: ['ssh', ...opts].join(' ') };
    const url = `ssh://${sshd.destination}:${sshd.port}${join(repoDir, 'vault.git')}`;
    const a = await d.first('a', env, url);
    await setSecret(a, 'db/password', 'over-ssh');
    await ok(a, ['sync']);
    const b = await d.join(a, 'b', env, url);
    expect(await getSecret(b, 'db/password')).toBe('over-ssh');
    await setSecret(a, 'only/a', '1');
    await setSecret(b, 'only/b', '2');
    await ok(a, ['sync']);
    await ok(b, ['sync']);
    await ok(a, ['sync']);
    for (const sb of [a, b]) expect(await secretNames(sb)).toEqual(['db/password', 'only/a', 'only/b']);
    expect(sshd.log()).toContain('Accepted publickey');
  });
});
