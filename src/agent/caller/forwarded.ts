import { readFileSync } from 'node:fs';

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

/** ssh(1)'s options that take an argument (OpenSSH's getopt string; -B since 8.9, -P since 9.3). */
const WITH_ARGUMENT = new Set('bcDEeFIiJLlmOopQRSWwBP');

/** `{ host }` when `exe` is the OpenSSH client; the destination from its command line. */
export function forwardedFrom(pid: number, exe: string | undefined): { host: string } | undefined {
  if (exe === undefined || !isSshClient(exe)) return undefined;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return { host: UNKNOWN_HOST }; // it exited meanwhile: still not a local program
  }
  return { host: sshDestination(argv.slice(1)) ?? UNKNOWN_HOST };
}

export function isSshClient(exe: string): boolean {
  return exe.slice(exe.lastIndexOf('/') + 1) === 'ssh';
}

/**
 * The host of ssh's destination, as the user gave it (an alias from ~/.ssh/config stays the
 * alias; `-o Hostname=…` is not the destination), from its arguments without argv[0]:
 * options are skipped with ssh's grammar (clusters such as `-vp22`, `--`), and the first
 * other argument is `[user@]host` or `ssh://[user@]host[:port]`. Undefined when there is none.
 */
export function sshDestination(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return hostOf(args[i + 1]);
    if (!arg.startsWith('-') || arg === '-') return hostOf(arg);
    // A cluster: flags until the first option taking an argument, which takes the rest or the next word.
    for (let j = 1; j < arg.length; j++) {
      if (!WITH_ARGUMENT.has(arg[j]!)) continue;
      if (j === arg.length - 1) i++;
      break;
    }
  }
  return undefined;
}

function hostOf(destination: string | undefined): string | undefined {
  if (destination === undefined || destination === '') return undefined;
  if (destination.startsWith('ssh://')) {
    const authority = destination.slice('ssh://'.length).split('/')[0]!;
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.split(':')[0]!;
    return host === '' ? undefined : host.toLowerCase();
  }
  // ssh splits user from host at the last @ (a user name may hold one).
  const host = destination.slice(destination.lastIndexOf('@') + 1);
  return host === '' ? undefined : host.toLowerCase();
}
