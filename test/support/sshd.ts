import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from './sandbox.js';

/**
 * A real OpenSSH server on 127.0.0.1 for the forwarding tests: Debian's openssh-server run
 * in the foreground with its own sshd_config, host key and authorized_keys in a temp dir, on
 * a free port, stopped by PID. The remote side is a second local user (REMOTE_USER, made by
 * scripts/setup.sh), so "the other machine" is this one seen through sshd: its processes
 * run as that user, and its root is the tests' own uid.
 */
export const REMOTE_USER = 'sigil-remote';
const SSHD = '/usr/sbin/sshd';

/** Why the ssh tests cannot run here, or null when they can. */
export function sshdUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (sshd switches to the remote user)';
  if (!existsSync(SSHD)) return `no ${SSHD}: apt-get install openssh-server (scripts/setup.sh)`;
  if (spawnSync('id', ['-u', REMOTE_USER]).status !== 0) return `no user ${REMOTE_USER}: scripts/setup.sh creates it`;
  return null;
}

/**
 * Whether REMOTE_USER can run the checkout's built binaries; the checkout's directories must be
 * searchable by others (a checkout under a 0700 home is not). Thrown, not skipped: setup.sh's
 * machine promises it.
 */
export function checkRemoteCanRun(): void {
  const r = spawnSync('setpriv', ['--reuid', REMOTE_USER, '--regid', REMOTE_USER, '--clear-groups', process.execPath, BIN.token, '--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${REMOTE_USER} cannot run ${BIN.token} (every directory above ${ROOT} must be o+x, its files o+r): ${r.stderr}`);
}

export interface Sshd {
  port: number;
  /** `user@127.0.0.1`. */
  destination: string;
  /** ssh options that reach this server and nothing else: no ~/.ssh/config, its own key and known_hosts. */
  sshOptions: string[];
  /** A directory on the remote user's PATH-to-be with sigil, sigil-token, sigil-agent (links to dist/bin). */
  binDir: string;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function keygen(path: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sigil-test', '-f', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-sshd-'));
  // sshd reads authorized_keys as the remote user: the directory must be searchable by it.
  chmodSync(dir, 0o755);
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o644 });
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { mode: 0o755 });
  symlinkSync(BIN.sigil, join(binDir, 'sigil'));
  symlinkSync(BIN.token, join(binDir, 'sigil-token'));
  symlinkSync(BIN.agent, join(binDir, 'sigil-agent'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `AllowUsers ${REMOTE_USER}`,
      'UsePAM no',
      'StrictModes no', // the key files live under /tmp, which is world-writable
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowStreamLocalForwarding yes',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8')}`);

  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Listening once it says so (or gone, with its reason in the log).
  const deadline = Date.now() + 10_000;
  while (!log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`sshd did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  return {
    port,
    destination: `${REMOTE_USER}@127.0.0.1`,
    sshOptions: [
      ...['-F', '/dev/null', '-p', String(port), '-i', join(dir, 'client_key')],
      ...['IdentitiesOnly=yes', 'BatchMode=yes', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, 'StrictHostKeyChecking=yes', 'LogLevel=ERROR'].flatMap((o) => ['-o', o]),
    ],
    binDir,
    dir,
    log: () => log,
    stop,
  };
}
