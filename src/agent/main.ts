import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, readFileSync, realpathSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AgentClient } from '../client/agent-client.js';
import { EXIT_CODES, isErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { defaultSocketPath, sigilPaths } from '../util/paths.js';
import { isAlive } from '../util/process-alive.js';
import { VERSION } from '../version.js';
import { AGENT_USAGE, parseAgentArgs, UsageError, type AgentArgs, type UnitKind } from './agent-args.js';
import { fileLogger, openAgentLog } from './agent-log.js';
import { peerCred, type PeerCred } from '../util/peer-cred.js';
import { installSignalHandlers, startAgent, type RunningAgent } from './run-agent.js';
import { detectShell, exportLines, unsetLines, type ShellDialect } from './shell-exports.js';
import { prepareSocketDir, probeSocket, removeSocket } from './socket-setup.js';

/** Node flags for the agent process (the daemon child; the bin's shebang for -D). */
const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=512'];

/** The readiness pipe a daemonizing parent reads: the child's fd 3. */
const READY_FD = 3;

/** How long `-k` waits for the agent to be gone: its shutdown takes milliseconds. */
const KILL_WAIT_MS = 5000;
const KILL_POLL_MS = 10;

/** How long `eval "$(sigil-agent)"` waits for an agent at $SIGIL_AUTH_SOCK to say hello. */
const ENV_AGENT_HELLO_MS = 3000;

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
    if (args.printUnit) {
      process.stdout.write(unitText(args.printUnit, thisAgentPath(), join(tmpdir(), 'sigilforge', 'agent.sock')));
      return 0;
    }
    return await run(args);
  } catch (err) {
    if (args.daemonChild) reportToParent(`err ${err instanceof SigilError ? err.code : 'INTERNAL'} ${(err as Error).message}`);
    if (err instanceof SigilError) {
      // The daemon child's stderr is agent.log: there the line is stamped like the others.
      if (args.daemonChild) fileLogger(sigilPaths().agentLog)(`sigil-agent[${process.pid}]: ${err.message}`);
      else process.stderr.write(`sigil-agent: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

/** The absolute path of the sigil-agent being run (the installed bin, symlinks resolved). */
function thisAgentPath(): string {
  const script = resolve(process.argv[1] ?? 'sigil-agent');
  try {
    return realpathSync(script);
  } catch {
    return script;
  }
}

/** XML text escaping for the plist's <string>s. */
function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A service definition that runs sigil-agent in the foreground (-D). units/ in the package
 * holds the same text with /usr/local/bin/sigil-agent (and, for launchd, /tmp) as the paths.
 * launchdSocket: launchd expands no variables, so the plist names the socket under $TMPDIR
 * as it is when the unit is printed.
 */
export function unitText(kind: UnitKind, agentPath: string, launchdSocket: string): string {
  for (const path of [agentPath, launchdSocket]) {
    if (/[\x00-\x1f\x7f\s"\\%]|--/.test(path)) {
      throw new SigilError('BAD_REQUEST', `the path ${JSON.stringify(path)} cannot be written into a unit as it is; print the unit elsewhere and edit it by hand`);
    }
  }
  if (kind === 'systemd') {
    return `# sigil-agent as a systemd user service (see sigil-agent(1)). Install with:
#   mkdir -p ~/.config/systemd/user
#   sigil-agent --print-unit systemd > ~/.config/systemd/user/sigil-agent.service
#   systemctl --user daemon-reload && systemctl --user enable --now sigil-agent
# The socket is the default one (%t is $XDG_RUNTIME_DIR), so shells find it with
#   export SIGIL_AUTH_SOCK="$XDG_RUNTIME_DIR/sigilforge/agent.sock"
# in their rc file (or with eval "$(sigil-agent)", which reuses this agent).
# ExecStart runs node through the script's #! line: node must be on systemd's PATH
# (systemctl --user show-environment), or put node's absolute path before the script.
[Unit]
Description=Sigilforge credential agent
Documentation=man:sigil-agent(1)

[Service]
Type=simple
# The only places the agent writes (ProtectSystem=strict below): made first, outside the sandbox.
ExecStartPre=+/bin/mkdir -p -m 0700 %h/.config/sigilforge %h/.local/share/sigilforge %h/.local/state/sigilforge %t/sigilforge
ExecStart=${agentPath} -D -a %t/sigilforge/agent.sock
Restart=on-failure
# For the agent's own children; shells get SIGIL_AUTH_SOCK from their rc file (above).
Environment=SIGIL_AUTH_SOCK=%t/sigilforge/agent.sock

# Sandbox: systemd-analyze security scores it 2.0 (9.6 without). Files private to you.
UMask=0077
NoNewPrivileges=yes
# OAuth (refreshes, the sign-in callback on 127.0.0.1) needs inet; clients and the keyring's
# D-Bus session bus need AF_UNIX. No MemoryDenyWriteExecute=: V8's JIT writes code it runs.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=~@clock @cpu-emulation @debug @module @mount @obsolete @raw-io @reboot @swap
SystemCallErrorNumber=EPERM
KeyringMode=private
# A user service gets what follows only inside a user namespace (PrivateUsers=yes). Where
# unprivileged ones are not allowed (Ubuntu >= 23.10 by default:
# kernel.apparmor_restrict_unprivileged_userns=1) the service fails at start ("Failed to
# set up user namespacing"): delete the lines from here to [Install] there.
PrivateUsers=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=read-only
# Set XDG_CONFIG_HOME, XDG_DATA_HOME or XDG_STATE_HOME for the user manager? Use those here.
ReadWritePaths=%h/.config/sigilforge %h/.local/share/sigilforge %h/.local/state/sigilforge %t/sigilforge
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes

[Install]
WantedBy=default.target
`;
  }
  // No two hyphens in a row inside the XML comment below: that would not be well-formed.
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!--
  sigil-agent as a launchd agent, as printed by its print-unit launchd option (see
  sigil-agent(1)). Save it as ~/Library/LaunchAgents/dev.sigilforge.agent.plist, then:
    launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/dev.sigilforge.agent.plist
  Shells find the agent with, in their rc file:
    export SIGIL_AUTH_SOCK=${xml(launchdSocket)}
  launchd expands no variables: the socket path is $TMPDIR's as it was when this was printed.
-->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>dev.sigilforge.agent</string>
  <key>ProgramArguments</key>
  <array>
    <string>${xml(agentPath)}</string>
    <string>-D</string>
    <string>-a</string>
    <string>${xml(launchdSocket)}</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>SIGIL_AUTH_SOCK</key>
    <string>${xml(launchdSocket)}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
</dict>
</plist>
`;
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
  if (/[\x00-\x1f\x7f]/.test(socketPath)) {
    // A newline cannot be written for csh at all, and a path like that is a mistake anyway.
    throw new SigilError('BAD_REQUEST', `the socket path ${JSON.stringify(socketPath)} contains a control character; choose another with -a`);
  }

  if (args.daemonChild) return runDaemonChild(args, socketPath, defaultDir);
  try {
    return await startOrReuse(args, dialect, socketPath, defaultDir, privateDir !== null);
  } finally {
    // Command mode: by now the agent is gone (or never started); so goes its directory.
    if (privateDir) rmSync(privateDir, { recursive: true, force: true });
  }
}

async function startOrReuse(args: AgentArgs, dialect: ShellDialect, socketPath: string, defaultDir: boolean, privateDir: boolean): Promise<number> {
  if (defaultDir && !args.foreground) {
    const found = await agentAtEnvSocket(socketPath);
    if (found) {
      process.stdout.write(exportLines(dialect, found.socket, found.pid, false));
      return 0;
    }
  }
  // Check the default directory before trusting anything in it: a socket that answers in
  // a directory someone else owns (/tmp/sigilforge-UID made by another user) is theirs,
  // and printing exports for it would send our passphrase and secrets to them.
  if (defaultDir) prepareSocketDir(dirname(socketPath), true);

  const probe = await probeSocket(socketPath);
  if (probe.state === 'live') {
    const pid = await livePid(socketPath);
    // Reuse is for rc files; a foreground agent or a command's own agent must be a new one.
    if (args.foreground || args.command.length > 0) throw new SigilError('ALREADY_EXISTS', `an agent (pid ${pid}) already answers on ${socketPath}`);
    process.stdout.write(exportLines(dialect, socketPath, pid, false));
    return 0;
  }
  // Only the file we found dead: another sigil-agent starting at the same moment may have
  // replaced it with a live one since (and may have removed it already).
  if (probe.state === 'stale') removeSocket(socketPath, probe.ino);

  if (args.foreground) {
    const agent = await startAgent({ socketPath, defaultSocketDir: defaultDir, lockTimeoutS: args.lockTimeoutS, debug: args.debug });
    installSignalHandlers(agent);
    process.stdout.write(exportLines(dialect, socketPath, process.pid, true));
    return new Promise<number>(() => {}); // serve until a signal ends the process
  }

  const started = await daemonize(args, socketPath, privateDir);
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
    // ssh-agent semantics: the agent does not outlive the command. Wait for it to be gone
    // (it removes its socket on the way out) before the caller removes the private directory.
    await stopChild(started.child);
  }
}

/** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

async function livePid(socketPath: string): Promise<number> {
  return (await helloAt(socketPath)).pid;
}

/** The agent's own account of itself, through the client library and its checks. */
async function helloAt(socketPath: string, timeoutMs?: number): Promise<{ agent: string; pid: number }> {
  const client = await AgentClient.connect({ socketPath, ...(timeoutMs ? { connectTimeoutMs: timeoutMs } : {}) });
  // hello waits up to the client library's 30 s; closing the connection ends that sooner.
  const timer = timeoutMs ? setTimeout(() => client.close(), timeoutMs) : undefined;
  try {
    return await client.hello('sigil-agent');
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/**
 * The rc-file line must not defeat forwarding: when $SIGIL_AUTH_SOCK names another socket
 * than the default one (a forwarded agent, an -a socket, a symlink to one) and a Sigilforge
 * agent of this user answers there, that is this shell's agent, and nothing is started.
 * Its pid is printed only when it is a process of this machine, i.e. when the socket's
 * listener (SO_PEERCRED) is the agent itself. A forwarded agent's pid is on another host
 * and the listener is sshd: SIGIL_AGENT_PID is then unset, so that -k kills nothing here.
 * null: no such agent there (unset, gone, not Sigilforge, someone else's); go on as usual.
 */
async function agentAtEnvSocket(defaultPath: string): Promise<{ socket: string; pid: number | null } | null> {
  const socket = process.env.SIGIL_AUTH_SOCK;
  if (!socket || resolve(socket) === defaultPath) return null;
  const ignore = (why: string) => {
    process.stderr.write(`sigil-agent: not using SIGIL_AUTH_SOCK=${socket}: ${why}\n`);
    return null;
  };
  let listener: PeerCred | null;
  try {
    listener = await socketListener(socket);
  } catch {
    return null; // nothing answers there (an agent that has gone): start or reuse as usual
  }
  const myUid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (listener && myUid !== null && listener.uid !== myUid) return ignore(`it is served by uid ${listener.uid}, not by you`);
  let hello: { agent: string; pid: number };
  try {
    hello = await helloAt(socket, ENV_AGENT_HELLO_MS);
  } catch (err) {
    if (err instanceof SigilError && err.code !== 'NO_AGENT') return ignore(err.message);
    return null;
  }
  if (typeof hello.agent !== 'string' || !hello.agent.startsWith('sigilforge ')) return null;
  const local = listener === null || listener.pid === hello.pid; // null: no SO_PEERCRED here, take its word
  return { socket, pid: local ? hello.pid : null };
}

/** Who listens on a Unix socket (null where the platform cannot tell); rejects when nothing does. */
function socketListener(path: string): Promise<PeerCred | null> {
  return new Promise((resolvePromise, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      const peer = peerCred(s);
      s.destroy();
      resolvePromise(peer);
    });
    s.once('error', reject);
  });
}

async function kill(dialect: ShellDialect): Promise<number> {
  const text = process.env.SIGIL_AGENT_PID;
  const pid = Number(text);
  if (!text || !Number.isSafeInteger(pid) || pid <= 1) {
    throw new SigilError('BAD_REQUEST', 'SIGIL_AGENT_PID is not set to a process id; cannot tell which agent to kill');
  }
  // A SIGIL_AGENT_PID that outlived its agent (a reboot, a long-lived tmux environment) may
  // name any process by now. Where /proc tells, kill only a sigil-agent.
  const argv = procCmdline(pid);
  if (argv && !argv.some((a) => a.includes('sigil-agent'))) {
    throw new SigilError('NOT_FOUND', `process ${pid} (SIGIL_AGENT_PID) is not a sigil-agent; not killing it`);
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    throw new SigilError('NOT_FOUND', `no agent with pid ${pid} (${(err as NodeJS.ErrnoException).code})`);
  }
  // The agent removes its socket and exits within milliseconds. Returning only once it is
  // gone means an `eval "$(sigil-agent)"` right after cannot find, and reuse, the dying one.
  const deadline = Date.now() + KILL_WAIT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new SigilError('INTERNAL', `the agent (pid ${pid}) still runs ${KILL_WAIT_MS / 1000} s after SIGTERM; stop it with: kill -KILL ${pid}`);
    }
    await new Promise((r) => setTimeout(r, KILL_POLL_MS));
  }
  process.stdout.write(unsetLines(dialect, pid));
  return 0;
}

/** A process's argv from /proc (Linux); null where that cannot be read. */
function procCmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** Starts this program again detached in a new session, and waits until it listens. */
function daemonize(args: AgentArgs, socketPath: string, privateDir: boolean): Promise<{ pid: number; reused: boolean; child: ChildProcess | null }> {
  const childArgs = [process.argv[1]!, '--daemon-child', '-a', socketPath];
  if (!args.socketPath && args.command.length === 0) childArgs.push('--default-socket-dir');
  // Command mode: should this process die without cleaning up (SIGKILL), the agent follows.
  if (args.command.length > 0) childArgs.push('--watch-pid', String(process.pid));
  if (privateDir) childArgs.push('--private-dir');
  if (args.lockTimeoutS !== undefined) childArgs.push('-t', String(args.lockTimeoutS));
  // See src/bin/sigil-agent.ts: a small young generation keeps the long-lived agent's RSS down.
  const log = openLogForChild();
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...childArgs], {
      detached: true, // setsid(): no controlling terminal, survives the shell
      stdio: ['ignore', 'ignore', log ?? 'ignore', 'pipe'],
      cwd: '/', // never pin the directory the agent was started from (a mount, a deleted dir)
    });
  } finally {
    if (log !== null) closeSync(log); // the child has its own copy
  }
  return new Promise((resolvePromise, reject) => {
    let report = '';
    const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (report += d));
    pipe.on('end', () => {
      child.unref();
      const line = report.split('\n')[0] ?? '';
      if (line === 'ok') return resolvePromise({ pid: child.pid!, reused: false, child });
      const m = /^err (\S+) (.*)$/.exec(line);
      if (m && m[1] === 'ALREADY_EXISTS' && args.command.length === 0) return resolvePromise({ pid: 0, reused: true, child: null });
      // Keep the child's error code, so the exit status tells (e.g. FORBIDDEN) as in the foreground.
      const code = m && isErrorCode(m[1]) ? m[1] : 'INTERNAL';
      reject(new SigilError(code, m ? m[2]! : 'the agent exited before it was ready (run sigil-agent -d to see why)'));
    });
    child.on('error', (err) => reject(new SigilError('INTERNAL', `cannot start the agent: ${err.message}`)));
  });
}

/** The background agent's stderr: agent.log (agent-log.ts), or nothing when it cannot be opened. */
function openLogForChild(): number | null {
  const path = sigilPaths().agentLog;
  try {
    return openAgentLog(path);
  } catch (err) {
    process.stderr.write(`sigil-agent: cannot open ${path} (${(err as Error).message}); the agent will log nowhere\n`);
    return null;
  }
}

async function runDaemonChild(args: AgentArgs, socketPath: string, defaultDir: boolean): Promise<number> {
  const agent = await startAgent({
    socketPath,
    defaultSocketDir: args.defaultSocketDir || defaultDir,
    lockTimeoutS: args.lockTimeoutS,
    debug: false,
    logTo: fileLogger(sigilPaths().agentLog),
  });
  installSignalHandlers(agent);
  if (args.watchPid !== undefined) watchParent(agent, args.watchPid, args.privateDir ? dirname(socketPath) : null);
  reportToParent('ok');
  return new Promise<number>(() => {});
}

/** Command mode: as ssh-agent does, exit once the process running the command is gone. */
function watchParent(agent: RunningAgent, pid: number, privateDir: string | null): void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return;
      clearInterval(timer);
      void agent
        .shutdown('command mode parent exited')
        .then(() => {
          // The parent did not live to remove the directory it made for us. The socket is
          // gone, so it is empty; rmdir (never a recursive remove) is all it takes.
          if (privateDir) {
            try {
              rmdirSync(privateDir);
            } catch {
              // Not empty or already gone: leave it.
            }
          }
        })
        .finally(() => process.exit(0));
    }
  }, 1000);
  timer.unref();
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
    // ssh-agent execs the command, so signals reach it directly. Here the command is our
    // child: pass TERM and HUP on, and outlive a terminal's INT (the command gets its own
    // copy), so that we are still there to stop the agent when the command ends.
    const forward = (sig: NodeJS.Signals) => () => {
      if (sig !== 'SIGINT') child.kill(sig);
    };
    const handlers = (['SIGTERM', 'SIGHUP', 'SIGINT'] as const).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, fn] of handlers) process.on(sig, fn);
    const done = (status: number) => {
      for (const [sig, fn] of handlers) process.off(sig, fn);
      resolvePromise(status);
    };
    child.on('error', (err) => {
      process.stderr.write(`sigil-agent: ${command[0]}: ${err.message}\n`);
      done(127); // the shell's "command not found"
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
  });
}


