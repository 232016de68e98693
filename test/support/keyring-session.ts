/**
 * A private Secret Service for tests: a D-Bus session bus of our own (a config with no
 * service directories, so nothing is ever D-Bus-activated with the real HOME) and a
 * gnome-keyring-daemon on it, with a throwaway HOME/XDG_*. Both run in the foreground as
 * our children and are stopped by PID in stop() — the keyring daemon can outlive its bus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export const KEYRING_PROGRAMS = ['dbus-daemon', 'dbus-send', 'gnome-keyring-daemon', 'secret-tool'] as const;

/** Why the keyring tests cannot run here, or null when they can. */
export function keyringSkipReason(): string | null {
  if (process.platform !== 'linux') return `the keyring tests drive gnome-keyring on Linux (this is ${process.platform})`;
  const missing = KEYRING_PROGRAMS.filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
  if (missing.length === 0) return null;
  return `gnome-keyring is not installed (missing ${missing.join(', ')}): apt-get install -y --no-install-recommends dbus gnome-keyring libsecret-tools`;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KeyringSession {
  readonly dir: string;
  /** The bus's DBUS_SESSION_BUS_ADDRESS. */
  readonly address: string;
  /** DBUS_SESSION_BUS_ADDRESS plus the throwaway HOME and XDG directories. */
  readonly env: Record<string, string>;
  /** gnome-keyring-daemon's pid (null for a bus without one). */
  readonly keyringPid: number | null;
  readonly busPid: number;
  /** Locks the login collection, as a screen lock or `Lock` from another client does. */
  lock(): Promise<void>;
  /** Runs secret-tool against this keyring. */
  secretTool(args: string[], input?: string): Promise<CommandResult>;
  /** Stops the daemons (by PID) and removes the directory. */
  stop(): Promise<void>;
}

export interface KeyringSessionOptions {
  /**
   * "unlocked": gnome-keyring-daemon --unlock with a password on stdin (a login keyring);
   * "never-unlocked": the daemon without --unlock (no login keyring, every write needs a prompt);
   * "none": a bus with no Secret Service on it.
   */
  keyring?: 'unlocked' | 'never-unlocked' | 'none';
  password?: string;
}

export async function startKeyringSession(opts: KeyringSessionOptions = {}): Promise<KeyringSession> {
  const mode = opts.keyring ?? 'unlocked';
  const dir = mkdtempSync(join(tmpdir(), 'sigil-keyring-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  };
  try {
    for (const d of ['home', 'data', 'config', 'cache', 'run', 'control']) {
      mkdirSync(join(dir, d));
      chmodSync(join(dir, d), 0o700);
    }
    const baseEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(dir, 'home'),
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_CACHE_HOME: join(dir, 'cache'),
      XDG_RUNTIME_DIR: join(dir, 'run'),
    };

    writeFileSync(join(dir, 'bus.conf'), busConfig(dir));
    const bus = spawn('dbus-daemon', [`--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--print-address=1'], {
      env: baseEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(bus);
    const address = await firstLine(bus, 'dbus-daemon');
    const env = { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address };

    let keyringPid: number | null = null;
    if (mode !== 'none') {
      const args = ['--foreground', '--components=secrets', `--control-directory=${join(dir, 'control')}`];
      if (mode === 'unlocked') args.push('--unlock');
      const daemon = spawn('gnome-keyring-daemon', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(daemon);
      let stderr = '';
      daemon.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      daemon.stdout!.resume();
      daemon.stdin!.on('error', () => {});
      // --unlock reads the login keyring's password from stdin up to EOF.
      daemon.stdin!.end(mode === 'unlocked' ? (opts.password ?? 'keyring-test-password') : '');
      keyringPid = daemon.pid ?? null;
      const deadline = Date.now() + 10_000;
      while (!(await nameHasOwner(env, 'org.freedesktop.secrets'))) {
        if (daemon.exitCode !== null || daemon.signalCode !== null) {
          throw new Error(`gnome-keyring-daemon exited (${daemon.exitCode ?? daemon.signalCode}): ${stderr}`);
        }
        if (Date.now() > deadline) throw new Error(`org.freedesktop.secrets did not appear on the bus: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    return {
      dir,
      address,
      env,
      keyringPid,
      busPid: bus.pid!,
      lock: async () => {
        const r = await run(
          'dbus-send',
          [
            '--session',
            '--print-reply',
            '--dest=org.freedesktop.secrets',
            '/org/freedesktop/secrets',
            'org.freedesktop.Secret.Service.Lock',
            'array:objpath:/org/freedesktop/secrets/collection/login',
          ],
          env,
        );
        if (r.code !== 0) throw new Error(`locking the keyring failed: ${r.stderr}`);
      },
      secretTool: (args, input) => run('secret-tool', args, env, input),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A session bus that activates nothing: no service directories. */
function busConfig(dir: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const onData = (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(out.slice(0, nl).trim());
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before printing its address: ${err}`)));
    child.once('error', reject);
  });
}

async function nameHasOwner(env: Record<string, string>, name: string): Promise<boolean> {
  const r = await run(
    'dbus-send',
    ['--session', '--dest=org.freedesktop.DBus', '--print-reply', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${name}`],
    env,
  );
  return r.code === 0 && /boolean true/.test(r.stdout);
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}

/** SIGTERM, then SIGKILL after a second; resolves once the process is gone. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 1000);
  await exited;
  clearTimeout(timer);
}

/**
 * For tests that use the keyring from this very process: starts a session before the
 * tests and points DBUS_SESSION_BUS_ADDRESS at it — before the first keyring call, since
 * libdbus reads it once per process — and restores it and stops the session after.
 */
export function useKeyringInThisProcess(): () => KeyringSession {
  let session: KeyringSession | undefined;
  const savedAddress = process.env.DBUS_SESSION_BUS_ADDRESS;
  beforeAll(async () => {
    session = await startKeyringSession();
    process.env.DBUS_SESSION_BUS_ADDRESS = session.address;
  });
  afterAll(async () => {
    if (savedAddress === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = savedAddress;
    await session?.stop();
  });
  return () => {
    if (!session) throw new Error('the keyring session is not started yet');
    return session;
  };
}
