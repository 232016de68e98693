import type { Socket } from 'node:net';
import type { AgentState } from '../agent-state.js';
import { chainPrograms, type Caller } from '../caller/caller.js';
import { serveConnection } from '../connection.js';
import { ConnectionPool } from '../connection-pool.js';
import type { OpTable } from '../op-table.js';
import { chainText } from '../../util/program-chain.js';
import { terminalText } from '../../util/terminal-text.js';

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

  /**
   * Serves `socket` as a session of the caller `identify` finds: called only when there is
   * room, so a client opening connections in a loop past the cap costs no /proc reads.
   * `who` names the connection in log lines before the caller is known ("pid 4242").
   */
  open(socket: Socket, who: string, identify: () => Caller): void {
    const made = this.pool.makeRoom();
    if (made === false) {
      this.opts.log(`refused a connection from ${who}: all ${this.pool.max} connections are busy`);
      socket.destroy();
      return;
    }
    // Once a minute at most: a client opening connections in a loop must not flood agent.log.
    if (made && performance.now() - this.capLogged > 60_000) {
      this.capLogged = performance.now();
      this.opts.log(`${this.pool.max} connections open: closing the ones idle the longest to make room`);
    }
    const caller = identify();
    this.opts.trace(`connection from ${who} (${describeCaller(caller)})`);
    const conn = serveConnection(socket, this.opts.state, this.opts.table, caller);
    this.pool.add(conn);
    socket.once('close', () => this.pool.delete(conn));
  }

  /** Closes every connection at once (shutdown). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

function describeCaller(caller: Caller): string {
  const chain = chainPrograms(caller);
  return chain.length > 0 ? terminalText(chainText(chain), { max: 300 }) : (caller.peer?.exe ?? 'unknown exe');
}
