/**
 * ssh(1)'s command line, read with ssh's own grammar: options (OpenSSH's getopt string, with
 * clusters such as `-vp22` and `--`), the destination, then the remote command — ssh takes
 * options after the destination too, up to the first other word. Used by the agent to tell
 * which host a forwarded connection comes from (agent/caller/forwarded.ts) and by `sigil ssh`
 * to find the user's destination and command among the options it passes on.
 */

/** ssh's options that take an argument (-B since OpenSSH 8.9, -P since 9.3). */
const WITH_ARGUMENT = new Set('bcDEeFIiJLlmOopQRSWwBP');

export interface SshArgs {
  /** Every option word, in order, with their arguments (those after the destination too). */
  options: string[];
  destination: string | undefined;
  /** The remote command's words (empty: a login shell). */
  command: string[];
}

/** Splits ssh's arguments (without argv[0]). */
export function splitSshArgs(args: readonly string[]): SshArgs {
  const options: string[] = [];
  let destination: string | undefined;
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      if (destination === undefined && i < args.length) destination = args[i++];
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (destination !== undefined) break; // the command
      destination = arg;
      i++;
      continue;
    }
    options.push(arg);
    i++;
    // A cluster: flags until the first option taking an argument, which takes the rest or the next word.
    for (let j = 1; j < arg.length; j++) {
      if (!WITH_ARGUMENT.has(arg[j]!)) continue;
      if (j === arg.length - 1 && i < args.length) options.push(args[i++]!);
      break;
    }
  }
  return { options, destination, command: args.slice(i) };
}

/** The host of a destination, `[user@]host` or `ssh://[user@]host[:port]`, lowercased as ssh does. */
export function destinationHost(destination: string | undefined): string | undefined {
  if (destination === undefined || destination === '') return undefined;
  let host: string;
  if (destination.startsWith('ssh://')) {
    const authority = destination.slice('ssh://'.length).split('/')[0]!;
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.split(':')[0]!;
  } else {
    host = destination.slice(destination.lastIndexOf('@') + 1); // ssh splits at the last @
  }
  return host === '' ? undefined : host.toLowerCase();
}
