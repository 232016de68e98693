import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forwardedFrom, isSshClient, sshDestination, UNKNOWN_HOST } from '../../../src/agent/caller/forwarded.js';
import { eventually, which } from '../../support/sandbox.js';

/**
 * A connection relayed by the user's own ssh client (`ssh -R`) is told by the peer's
 * executable, and its host read from ssh's command line with ssh's own option grammar.
 */
describe('sshDestination', () => {
  it.each([
    [['build1'], 'build1'],
    [['alice@build1.example.com'], 'build1.example.com'],
    [['ssh://alice@build1:2222'], 'build1'],
    [['ssh://[::1]:22/'], '::1'],
    [['ssh://build1'], 'build1'],
    [['me@corp@jump'], 'jump'], // ssh splits at the last @
    [['Build1'], 'build1'], // ssh lowercases the host
    // Options with an argument, joined or not; the argument is never the destination.
    [['-p', '22', '-l', 'alice', 'host'], 'host'],
    [['-p22', 'host'], 'host'],
    [['-R', '/tmp/r.sock:/run/user/0/sigilforge/agent.sock', 'host', 'sigil-token', 'a', 'b'], 'host'],
    [['-o', 'Hostname=elsewhere', 'alias'], 'alias'],
    [['-oHostname=elsewhere', 'alias'], 'alias'],
    [['-F', '/dev/null', '-i', 'key', '-J', 'jump', 'target'], 'target'],
    // Clusters: flags up to the first option taking an argument, which takes the rest or the next word.
    [['-vvt', 'host'], 'host'],
    [['-Ap', '2222', 'host'], 'host'],
    [['-Ap2222', 'host'], 'host'],
    [['-NfL', '8080:localhost:80', 'host'], 'host'],
    [['-B', 'eth0', '-b', '127.0.0.1', '-c', 'aes128-ctr', '-D', '1080', '-E', 'log', '-e', 'none', 'host'], 'host'],
    [['-I', 'p11', '-m', 'hmac', '-O', 'check', '-Q', 'cipher', '-S', 'none', '-W', 'h:22', '-w', '0:1', 'host'], 'host'],
    [['--', 'host', '-p', '22'], 'host'],
    [['-4', '-6', '-C', '-q', '-T', '-x', '-y', '-K', '-k', '-g', '-G', '-M', '-n', '-N', '-s', '-X', '-Y', 'host'], 'host'],
  ])('%j → %s', (args, host) => {
    expect(sshDestination(args)).toBe(host);
  });

  it('finds none where ssh was given none', () => {
    expect(sshDestination([])).toBeUndefined();
    expect(sshDestination(['-p', '22'])).toBeUndefined();
    expect(sshDestination(['-o', 'Hostname=x'])).toBeUndefined();
    expect(sshDestination(['--'])).toBeUndefined();
    expect(sshDestination(['alice@'])).toBeUndefined();
  });
});

describe('forwardedFrom', () => {
  it('is the OpenSSH client only, by the resolved executable: not sshd, not another program', () => {
    expect(isSshClient('/usr/bin/ssh')).toBe(true);
    expect(isSshClient('/usr/local/bin/ssh')).toBe(true);
    expect(isSshClient('/usr/sbin/sshd')).toBe(false);
    expect(isSshClient('/usr/bin/ssh-agent')).toBe(false);
    expect(isSshClient('/usr/bin/node')).toBe(false);
    expect(forwardedFrom(process.pid, process.execPath)).toBeUndefined();
    expect(forwardedFrom(process.pid, undefined)).toBeUndefined();
  });

  it('an ssh whose process has gone is still forwarded, from an unknown host', () => {
    expect(forwardedFrom(2 ** 22 + 1, '/usr/bin/ssh')).toEqual({ host: UNKNOWN_HOST });
  });

  it.skipIf(!which('ssh'))('reads the destination of a real ssh process from /proc', async () => {
    // A ProxyCommand that never answers keeps ssh waiting, connected to nothing.
    const child = spawn('ssh', ['-F', '/dev/null', '-o', 'ProxyCommand=sleep 30', '-o', 'BatchMode=yes', '-p', '2222', '-l', 'alice', '-R', '/tmp/x.sock:/tmp/y.sock', 'Build7.example.org', 'true'], { stdio: 'ignore' });
    try {
      await eventually(() => {
        try {
          return readlinkSync(`/proc/${child.pid}/exe`).endsWith('/ssh');
        } catch {
          return false;
        }
      });
      const exe = readlinkSync(`/proc/${child.pid}/exe`);
      expect(forwardedFrom(child.pid!, exe)).toEqual({ host: 'build7.example.org' });
      // An unreadable exe (a non-dumpable process): its name in /proc/PID/comm decides.
      expect(forwardedFrom(child.pid!, undefined)).toEqual({ host: 'build7.example.org' });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
