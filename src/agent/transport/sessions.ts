import type { Socket } from 'node:net';
import type { AgentState } from '../agent-state.js';
import type { Caller } from '../caller/caller.js';
import { serveConnection } from '../connection.js';
import { ConnectionPool } from '../connection-pool.js';
import type { OpTable } from '../op-table.js';

/**
 * Where every transport (src/agent/transport/*.ts) hands its connections: each accepted
 * connection, once the transport knows who is calling, becomes a session with that Caller,
 * served by the one dispatcher. The connection cap and the shutdown are here, the same for
 * all transports; a transport's own part is accepting, refusing and identifying.
 */
export interface SessionsOptions {
  state: AgentState;
  table: OpTable;
  /** agent.log (events). */
  log(msg: string): void;
  /** -d only (one line per connection). */
  trace(msg: string): void;
}

export class Sessions {
  private readonly sockets = new Set<Socket>();
  private readonly pool = new ConnectionPool();
  private capLogged = -Infinity;

  constructor(private readonly opts: SessionsOptions) {}

  /**
   * Takes charge of a connection just accepted (refused ones too: shutdown closes them). A
   * peer that hangs up at once (a client refusing us, see agent-trust.ts) makes our first
   * write EPIPE, which must not be an uncaught error.
   */
  accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  /** Serves `socket` as a session of `caller`, if there is room (see ConnectionPool). */
  open(socket: Socket, caller: Caller): void {
    const who = `pid ${caller.peer?.pid ?? '?'}`;
    const made = this.pool.makeRoom();
    if (made === false) {
      this.opts.log(`refused a connection from ${who}: all ${this.pool.max} connections are busy`);
      socket.destroy();
      return;
    }
    // Once a minute at most: a client opening connections in a loop must not flood agent.log.
    if (made && this.opts.state.clock.now() - this.capLogged > 60_000) {
      this.capLogged = this.opts.state.clock.now();
      this.opts.log(`${this.pool.max} connections open: closing the ones idle the longest to make room`);
    }
    // The peer's executable only: the chain is read when a request needs it, not for a log line.
    this.opts.trace(`connection from ${who} (${caller.peer?.exe ?? 'unknown exe'})`);
    const conn = serveConnection(socket, this.opts.state, this.opts.table, caller);
    this.pool.add(conn);
    socket.once('close', () => this.pool.delete(conn));
  }

  /** Closes every connection at once (shutdown). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
