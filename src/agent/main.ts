import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AgentClient } from '../client/agent-client.js';
import { EXIT_CODES } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { defaultSocketPath } from '../util/paths.js';
import { VERSION } from '../version.js';
import { AGENT_USAGE, parseAgentArgs, UsageError, type AgentArgs } from './agent-args.js';
import { installSignalHandlers, startAgent } from './run-agent.js';
import { detectShell, exportLines, unsetLines } from './shell-exports.js';
import { probeSocket } from './socket-setup.js';

/** The readiness pipe a daemonizing parent reads: the child's fd 3. */
const READY_FD = 3;

export async function agentMain(argv: string[]): Promise<number> {
  let args: AgentArgs;
  try {
    args = parseAgentArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`sigil-agent: ${err.message}\n${AGENT_USAGE}`);
    return EXIT_CODES.BAD_REQUEST;
  }
  if (args.help) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`sigil-agent ${VERSION}\n`);
    return 0;
  }
  try {
    return await run(args);
  } catch (err) {
    if (args.daemonChild) reportToParent(`err ${err instanceof SigilError ? err.code : 'INTERNAL'} ${(err as Error).message}`);
    if (err instanceof SigilError) {
      process.stderr.write(`sigil-agent: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function run(args: AgentArgs): Promise<number> {
  const dialect = args.dialect ?? detectShell(process.env.SHELL);
  if (args.kill) return kill(dialect);

  // Command mode gets a private socket, as ssh-agent does: the child's agent is its own.
  let privateDir: string | null = null;
  let socketPath: string;
  if (args.socketPath) socketPath = resolve(args.socketPath);
  else if (args.command.length > 0) {
    privateDir = mkdtempSync(join(tmpdir(), 'sigilforge-'));
    socketPath = join(privateDir, 'agent.sock');
  } else socketPath = defaultSocketPath();
  const defaultDir = !args.socketPath && !privateDir;

  if (args.daemonChild) return runDaemonChild(args, socketPath, defaultDir);

  const probe = await probeSocket(socketPath);
  if (probe === 'live') {
    const pid = await livePid(socketPath);
    if (args.foreground) throw new SigilError('ALREADY_EXISTS', `an agent (pid ${pid}) already answers on ${socketPath}`);
    process.stdout.write(exportLines(dialect, socketPath, pid, false));
    return 0;
  }
  if (probe === 'stale') unlinkSync(socketPath);

  if (args.foreground) {
    const agent = await startAgent({ socketPath, defaultSocketDir: defaultDir, lockTimeoutS: args.lockTimeoutS, debug: args.debug });
    installSignalHandlers(agent);
    process.stdout.write(exportLines(dialect, socketPath, process.pid, true));
    return new Promise<number>(() => {}); // serve until a signal ends the process
  }

  const started = await daemonize(args, socketPath);
  if (started.reused) {
    // Lost a start-up race with another shell: share its agent.
    process.stdout.write(exportLines(dialect, socketPath, await livePid(socketPath), false));
    return 0;
  }
  if (args.command.length === 0) {
    process.stdout.write(exportLines(dialect, socketPath, started.pid, true));
    return 0;
  }
  try {
    return await runCommand(args.command, socketPath, started.pid);
  } finally {
    try {
      process.kill(started.pid, 'SIGTERM');
    } catch {
      // It already exited.
    }
    if (privateDir) setTimeout(() => rmSync(privateDir, { recursive: true, force: true }), 200).unref();
  }
}

async function livePid(socketPath: string): Promise<number> {
  const client = await AgentClient.connect({ socketPath });
  try {
    return (await client.hello('sigil-agent')).pid;
  } finally {
    client.close();
  }
}

function kill(dialect: ReturnType<typeof detectShell>): number {
  const text = process.env.SIGIL_AGENT_PID;
  const pid = Number(text);
  if (!text || !Number.isSafeInteger(pid) || pid <= 1) {
    throw new SigilError('BAD_REQUEST', 'SIGIL_AGENT_PID is not set to a process id; cannot tell which agent to kill');
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    throw new SigilError('NOT_FOUND', `no agent with pid ${pid} (${(err as NodeJS.ErrnoException).code})`);
  }
  process.stdout.write(unsetLines(dialect, pid));
  return 0;
}

/** Starts this program again detached in a new session, and waits until it listens. */
function daemonize(args: AgentArgs, socketPath: string): Promise<{ pid: number; reused: boolean }> {
  const childArgs = [process.argv[1]!, '--daemon-child', '-a', socketPath];
  if (!args.socketPath && args.command.length === 0) childArgs.push('--default-socket-dir');
  if (args.lockTimeoutS !== undefined) childArgs.push('-t', String(args.lockTimeoutS));
  const child = spawn(process.execPath, childArgs, {
    detached: true, // setsid(): no controlling terminal, survives the shell
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    cwd: '/', // never pin the directory the agent was started from (a mount, a deleted dir)
  });
  return new Promise((resolvePromise, reject) => {
    let report = '';
    const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (report += d));
    pipe.on('end', () => {
      child.unref();
      const line = report.split('\n')[0] ?? '';
      if (line === 'ok') return resolvePromise({ pid: child.pid!, reused: false });
      const m = /^err (\S+) (.*)$/.exec(line);
      if (m && m[1] === 'ALREADY_EXISTS') return resolvePromise({ pid: 0, reused: true });
      reject(new SigilError('INTERNAL', m ? m[2]! : 'the agent exited before it was ready (run sigil-agent -d to see why)'));
    });
    child.on('error', (err) => reject(new SigilError('INTERNAL', `cannot start the agent: ${err.message}`)));
  });
}

async function runDaemonChild(args: AgentArgs, socketPath: string, defaultDir: boolean): Promise<number> {
  const agent = await startAgent({
    socketPath,
    defaultSocketDir: args.defaultSocketDir || defaultDir,
    lockTimeoutS: args.lockTimeoutS,
    debug: false,
  });
  installSignalHandlers(agent);
  reportToParent('ok');
  return new Promise<number>(() => {});
}

function reportToParent(line: string): void {
  try {
    writeSync(READY_FD, line + '\n');
    closeSync(READY_FD);
  } catch {
    // No parent listening (started by hand with --daemon-child).
  }
}

function runCommand(command: string[], socketPath: string, pid: number): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(command[0]!, command.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, SIGIL_AUTH_SOCK: socketPath, SIGIL_AGENT_PID: String(pid) },
    });
    child.on('error', (err) => {
      process.stderr.write(`sigil-agent: ${command[0]}: ${err.message}\n`);
      resolvePromise(127); // the shell's "command not found"
    });
    child.on('exit', (code, signal) => resolvePromise(code ?? 128 + (signal ? signalNumber(signal) : 0)));
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const nums: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return nums[signal] ?? 0;
}


