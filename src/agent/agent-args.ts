import { parseDuration } from '../util/duration.js';
import type { ShellDialect } from './shell-exports.js';

/** sigil-agent's command line, parsed the way ssh-agent's getopt does. */
export interface AgentArgs {
  dialect?: ShellDialect;
  socketPath?: string;
  lockTimeoutS?: number;
  foreground: boolean;
  debug: boolean;
  kill: boolean;
  help: boolean;
  version: boolean;
  /** --print-unit: print a service definition for this init system and exit. */
  printUnit?: UnitKind;
  /** Internal: this process is the background child of a daemonizing parent. */
  daemonChild: boolean;
  /** Internal: the daemon child's -a is the default path, so its directory is checked. */
  defaultSocketDir: boolean;
  /** Internal: command mode's agent exits when this process (the sigil-agent running the command) is gone. */
  watchPid?: number;
  /** Internal: the socket's directory was made for this agent alone (command mode). */
  privateDir: boolean;
  command: string[];
}

export type UnitKind = 'systemd' | 'launchd';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const AGENT_USAGE = `usage: sigil-agent [-c | -s | --fish] [-Dd] [-a socket] [-t timeout] [command [arg ...]]
       sigil-agent [-c | -s | --fish] -k
       sigil-agent --print-unit systemd|launchd

  -a PATH      bind the agent socket to PATH (default $XDG_RUNTIME_DIR/sigilforge/agent.sock)
  -c           print C-shell commands        -s  print Bourne shell commands
  --fish       print fish commands           (default: guessed from $SHELL)
  -D           stay in the foreground        -d  foreground, debug log on stderr
  -k           kill the agent named by $SIGIL_AGENT_PID
  -t DURATION  lock after this much idle time (90s, 15m, 1h; 0 = never)
  -V           print the version             -h  this help
  --print-unit systemd|launchd
               print a systemd user unit or a launchd agent plist that runs
               this sigil-agent with -D, and exit

With a command, the agent runs until the command exits, with SIGIL_AUTH_SOCK and
SIGIL_AGENT_PID set in its environment. An agent already answering on the socket is
reused: its variables are printed and no second agent starts.
`;

export function parseAgentArgs(argv: string[]): AgentArgs {
  const a: AgentArgs = { foreground: false, debug: false, kill: false, help: false, version: false, daemonChild: false, defaultSocketDir: false, privateDir: false, command: [] };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`option ${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg === '--fish') a.dialect = 'fish';
    else if (arg === '--daemon-child') a.daemonChild = true;
    else if (arg === '--default-socket-dir') a.defaultSocketDir = true;
    else if (arg === '--private-dir') a.privateDir = true;
    else if (arg === '--watch-pid') {
      const pid = Number(value(arg));
      if (!Number.isSafeInteger(pid) || pid <= 1) throw new UsageError('--watch-pid needs a process id');
      a.watchPid = pid;
    }
    else if (arg === '--print-unit' || arg.startsWith('--print-unit=')) {
      const kind = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value(arg);
      if (kind !== 'systemd' && kind !== 'launchd') throw new UsageError(`--print-unit: expected systemd or launchd, not ${JSON.stringify(kind)}`);
      a.printUnit = kind;
    }
    else if (arg === '--help') a.help = true;
    else if (arg === '--version') a.version = true;
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else if (arg.startsWith('-') && arg.length > 1) {
      // Bundled short options, getopt style: -sD, -a/path, -t15m.
      for (let j = 1; j < arg.length; j++) {
        const f = arg[j]!;
        const rest = arg.slice(j + 1);
        const takeValue = (): string => (rest ? rest : value(`-${f}`));
        if (f === 'c') a.dialect = 'csh';
        else if (f === 's') a.dialect = 'sh';
        else if (f === 'D') a.foreground = true;
        else if (f === 'd') {
          a.foreground = true;
          a.debug = true;
        } else if (f === 'k') a.kill = true;
        else if (f === 'h') a.help = true;
        else if (f === 'V') a.version = true;
        else if (f === 'a') {
          a.socketPath = takeValue();
          break;
        } else if (f === 't') {
          const text = takeValue();
          try {
            a.lockTimeoutS = parseDuration(text);
          } catch (err) {
            throw new UsageError(`-t: ${(err as Error).message}`);
          }
          break;
        } else throw new UsageError(`unknown option -${f}`);
      }
    } else break;
  }
  a.command = argv.slice(i);
  if (a.kill && (a.command.length > 0 || a.foreground)) throw new UsageError('-k cannot be combined with a command or -D/-d');
  if (a.foreground && a.command.length > 0) throw new UsageError('-D/-d cannot be combined with a command');
  return a;
}
