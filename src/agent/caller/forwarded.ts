import { destinationHost, splitSshArgs } from '../../util/ssh-args.js';
import { readCmdline, readProc } from './proc-files.js';

/**
 * Whether a connection is relayed from another machine by the user's own OpenSSH client
 * (`ssh -R REMOTE_SOCK:$SIGIL_AUTH_SOCK host`). The kernel says the peer is the local `ssh`
 * process, running as the user: the peer check passes, yet whoever sent the request is a
 * program on `host` — possibly its root. So such a connection gets the forwarded rules
 * (policy.ts), and its audit lines name the host.
 *
 * Told by the peer's executable as the kernel resolved it (/proc/PID/exe, symlinks such as
 * slogin already followed): a file named `ssh`, never sshd (which is the *remote* end of a
 * forward and is no client here). A program merely named ssh is treated as forwarded too,
 * which only takes rights away from it.
 */

/** The host forwarded callers are shown with when ssh's command line cannot be read or parsed. */
export const UNKNOWN_HOST = '?';

/**
 * `{ host }` when the peer is the OpenSSH client; the destination from its command line. With
 * /proc/PID/exe unreadable (a process that made itself non-dumpable), its name in
 * /proc/PID/comm decides: a process can set that name itself, but calling itself ssh only
 * takes rights away from it, so this never opens anything.
 */
export function forwardedFrom(pid: number, exe: string | undefined): { host: string } | undefined {
  if (exe === undefined ? readProc(`/proc/${pid}/comm`, 64)?.toString('utf8').trimEnd() !== 'ssh' : !isSshClient(exe)) return undefined;
  // Gone meanwhile (no argv): still not a local program.
  return { host: sshDestination(readCmdline(pid).slice(1)) ?? UNKNOWN_HOST };
}

export function isSshClient(exe: string): boolean {
  return exe.slice(exe.lastIndexOf('/') + 1) === 'ssh';
}

/**
 * The host of ssh's destination, as the user gave it (an alias from ~/.ssh/config stays the
 * alias; `-o Hostname=…` is not the destination), from its arguments without argv[0].
 * Undefined when there is none.
 */
export function sshDestination(args: readonly string[]): string | undefined {
  return destinationHost(splitSshArgs(args).destination);
}
