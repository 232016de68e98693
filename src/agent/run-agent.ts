import { lstatSync } from 'node:fs';
import type { Server } from 'node:net';
import { loadConfig } from '../config/config.js';
import type { VaultOptions } from '../stores/vault-store.js';
import { sigilPaths, type SigilPaths } from '../util/paths.js';
import { AccountRegistry } from './credentials/account-registry.js';
import { AgentState } from './agent-state.js';
import { AuditLog } from './audit-log.js';
import { systemClock } from './clock.js';
import { unlockAtStart } from './login-unlock.js';
import { OP_TABLE } from './ops/index.js';
import { listenPrivately, prepareSocketDir, removeSocket } from './socket-setup.js';
import { hardenProcess } from './process-hardening.js';
import { Sessions } from './transport/sessions.js';
import { unixSocketServer } from './transport/unix-socket.js';

export interface RunAgentOptions {
  socketPath: string;
  /** Whether the socket directory is the default one (checked and tightened) or -a's. */
  defaultSocketDir: boolean;
  /** Overrides config.toml's agent.lock_timeout (-t). */
  lockTimeoutS?: number;
  debug: boolean;
  /**
   * Where the agent's lines go instead of stderr: the daemon child's agent.log writer
   * (agent-log.ts). Events are logged there too, not only warnings; per-connection lines
   * stay for -d alone (every sigil-token call would be one).
   */
  logTo?: (line: string) => void;
  paths?: SigilPaths;
  vault?: VaultOptions;
  /**
   * The agent of one `sigil --direct` command, serving only that sigil process: it does not
   * unlock itself from the OS keyring, and its audit lines say direct_start / direct_stop.
   */
  direct?: boolean;
}

export interface RunningAgent {
  state: AgentState;
  server: Server;
  /** Locks, flushes the audit log, removes the socket. Resolves when the server is closed. */
  shutdown(reason: string): Promise<void>;
}

/** Starts serving in this process. The caller decides about daemonizing and exiting. */
export async function startAgent(opts: RunAgentOptions): Promise<RunningAgent> {
  const write = opts.logTo ?? ((line: string) => void process.stderr.write(line + '\n'));
  const warn = (msg: string) => write(`sigil-agent[${process.pid}]: ${msg}`);
  const log = opts.debug || opts.logTo ? warn : () => {};
  const trace = opts.debug ? warn : () => {};
  // First, before the config, the vault or the keyring is read: no core file and no
  // same-uid debugger ever sees what this process will hold.
  const { failed } = hardenProcess();
  if (failed.length > 0) warn(`could not protect the agent's memory from core dumps and debuggers (${failed.join(', ')})`);
  const paths = opts.paths ?? sigilPaths();
  const config = loadConfig(paths.config);
  const registry = AccountRegistry.load(paths.accounts);
  const clock = systemClock;
  const audit = new AuditLog(paths.audit, { clock });
  const state = new AgentState({
    clock,
    paths,
    socketPath: opts.socketPath,
    lockTimeoutS: opts.lockTimeoutS ?? config.agent.lockTimeoutS,
    config,
    primary: config.storage.primary,
    registry,
    audit,
    log,
    // Read once, as ssh-agent reads SSH_ASKPASS: the agent outlives the shell that started it.
    askpass: process.env.SIGIL_ASKPASS || undefined,
    ...(opts.vault ? { vault: opts.vault } : {}),
    ...(opts.direct ? { direct: true } : {}),
  });
  // Connections arrive through transports (the Unix socket is the only one so far) and are
  // served as sessions, each with its caller.
  const sessions = new Sessions({ state, table: OP_TABLE, log, trace });
  const server = unixSocketServer(sessions, { audit, log });

  prepareSocketDir(dirnameOf(opts.socketPath), opts.defaultSocketDir);
  await listenPrivately(server, opts.socketPath);
  const ino = lstatSync(opts.socketPath).ino;
  const kind = opts.direct ? 'direct' : 'agent';
  audit.record({ op: `${kind}_start`, target: opts.socketPath, result: 'ok' });
  log(`listening on ${opts.socketPath}, lock timeout ${state.lock.timeoutSeconds}s`);
  // After listen: clients are answered (locked) while the keyring and scrypt take their time.
  // Why it failed goes to stderr even without -d: under -D that is the service's journal.
  if (!opts.direct) void unlockAtStart(state, warn);

  let closing: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> =>
    (closing ??= (async () => {
      log(`shutting down (${reason})`);
      await state.lock.lock('shutdown');
      removeSocket(opts.socketPath, ino);
      audit.record({ op: `${kind}_stop`, target: reason, result: 'ok' });
      await audit.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      sessions.destroyAll();
      await closed;
    })());
  return { state, server, shutdown };
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Signals as ssh-agent users expect: USR1 locks, TERM/INT/HUP lock and exit 0. */
export function installSignalHandlers(agent: RunningAgent): void {
  process.on('SIGUSR1', () => void agent.state.lock.lock('signal'));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      void agent.shutdown(sig).finally(() => process.exit(0));
      // Clients holding connections open must not keep us alive past a signal.
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }
}
