import { lstatSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { loadConfig } from '../config/config.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { encodeFrame } from '../protocol/frame.js';
import type { VaultOptions } from '../stores/vault-store.js';
import { sigilPaths, type SigilPaths } from '../util/paths.js';
import { AccountRegistry } from './credentials/account-registry.js';
import { AgentState } from './agent-state.js';
import { AuditLog } from './audit-log.js';
import { systemClock } from './clock.js';
import { unlockAtStart } from './login-unlock.js';
import { serveConnection } from './connection.js';
import { ConnectionPool } from './connection-pool.js';
import { OP_TABLE } from './ops/index.js';
import { peerCred } from '../util/peer-cred.js';
import { forwardedFrom } from './caller/forwarded.js';
import { listenPrivately, prepareSocketDir, removeSocket } from './socket-setup.js';
import { hardenProcess } from './process-hardening.js';

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
  });
  const myUid = typeof process.getuid === 'function' ? process.getuid() : null;

  const sockets = new Set<Socket>();
  const pool = new ConnectionPool();
  let capLogged = -Infinity;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Before anything can write to it: a peer that hangs up at once (a client refusing us,
    // see agent-trust.ts) makes our first write EPIPE, which must not be an uncaught error.
    socket.on('error', () => {});
    const peer = peerCred(socket);
    if (peer && myUid !== null && peer.uid !== myUid) {
      // Defence in depth behind the 0700 directory: e.g. a root-owned agent and a process
      // that got past the file modes some other way.
      audit.record({ op: 'connect', result: ErrorCode.FORBIDDEN, peer });
      log(`refused a connection from uid ${peer.uid} (pid ${peer.pid})`);
      socket.end(encodeFrame({ id: null, ok: false, error: new SigilError(ErrorCode.FORBIDDEN, 'connections from another user are refused').toWire() }));
      setTimeout(() => socket.destroy(), 1000).unref(); // a peer that never closes its side
      return;
    }
    const made = pool.makeRoom();
    if (made === false) {
      log(`refused a connection from pid ${peer?.pid ?? '?'}: all ${pool.max} connections are busy`);
      socket.destroy();
      return;
    }
    // Once a minute at most: a client opening connections in a loop must not flood agent.log.
    if (made && clock.now() - capLogged > 60_000) {
      capLogged = clock.now();
      log(`${pool.max} connections open: closing the ones idle the longest to make room`);
    }
    // The user's own ssh client relaying `ssh -R`: the caller is on another machine.
    const forwarded = peer ? forwardedFrom(peer.pid, peer.exe) : undefined;
    trace(`connection from pid ${peer?.pid ?? '?'} (${peer?.exe ?? 'unknown exe'}${forwarded ? `, forwarded over ssh from ${forwarded.host}` : ''})`);
    const conn = serveConnection(socket, state, OP_TABLE, peer, { forwarded });
    pool.add(conn);
    socket.once('close', () => pool.delete(conn));
  });

  prepareSocketDir(dirnameOf(opts.socketPath), opts.defaultSocketDir);
  await listenPrivately(server, opts.socketPath);
  const ino = lstatSync(opts.socketPath).ino;
  audit.record({ op: 'agent_start', target: opts.socketPath, result: 'ok' });
  log(`listening on ${opts.socketPath}, lock timeout ${state.lock.timeoutSeconds}s`);
  // After listen: clients are answered (locked) while the keyring and scrypt take their time.
  // Why it failed goes to stderr even without -d: under -D that is the service's journal.
  void unlockAtStart(state, warn);

  let closing: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> =>
    (closing ??= (async () => {
      log(`shutting down (${reason})`);
      await state.lock.lock('shutdown');
      removeSocket(opts.socketPath, ino);
      audit.record({ op: 'agent_stop', target: reason, result: 'ok' });
      await audit.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
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
