import type { CallRest } from '../client/agent-client.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError, toSigilError } from '../protocol/errors.js';
import type { Op, OpAnswer } from '../protocol/op-catalog.js';

/**
 * What the TUI needs from a connection to the agent: the real AgentClient satisfies it, and
 * unit tests hand in a fake. Keep it this small so a fake stays honest. Calls are typed by
 * the op catalogue, as AgentClient.call is.
 */
export interface AgentPort {
  call<O extends Op>(op: O, ...rest: CallRest<O>): Promise<OpAnswer<O>>;
  close(): void;
}

export type ConnectFn = () => Promise<AgentPort>;

export type ConnectionState =
  | { state: 'connecting' }
  | { state: 'connected' }
  | { state: 'disconnected'; message: string };

/**
 * One connection to the agent for the whole TUI session. When the agent goes away (NO_AGENT:
 * it was killed, restarted, the socket vanished) the connection is dropped and the state says
 * so; the next request — the status bar polls every second — connects again.
 */
export class AgentSession {
  private conn: AgentPort | null = null;
  private connecting: Promise<AgentPort> | null = null;
  private closed = false;
  private current: ConnectionState = { state: 'connecting' };
  private readonly listeners = new Set<() => void>();

  constructor(private readonly connectFn: ConnectFn) {}

  get connection(): ConnectionState {
    return this.current;
  }

  /** For useSyncExternalStore: returns the unsubscribe function. */
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getConnection = (): ConnectionState => this.current;

  /** One request over the session's connection: the op's arguments in, its result out. */
  async call<O extends Op>(op: O, ...rest: CallRest<O>): Promise<OpAnswer<O>> {
    const conn = await this.ensure();
    try {
      return await conn.call(op, ...rest);
    } catch (err) {
      const e = toSigilError(err);
      if (e.code === ErrorCode.NO_AGENT) this.drop(conn, e.message);
      throw e;
    }
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = null;
  }

  private ensure(): Promise<AgentPort> {
    if (this.closed) return Promise.reject(new SigilError(ErrorCode.NO_AGENT, 'the TUI is closing'));
    if (this.conn) return Promise.resolve(this.conn);
    if (!this.connecting) {
      this.connecting = this.connectFn().then(
        (conn) => {
          this.connecting = null;
          if (this.closed) {
            conn.close();
            throw new SigilError(ErrorCode.NO_AGENT, 'the TUI is closing');
          }
          this.conn = conn;
          this.set({ state: 'connected' });
          return conn;
        },
        (err: unknown) => {
          this.connecting = null;
          const e = toSigilError(err);
          this.set({ state: 'disconnected', message: e.message });
          throw e;
        },
      );
    }
    return this.connecting;
  }

  private drop(conn: AgentPort, message: string): void {
    if (this.conn !== conn) return; // an older connection's late failure
    this.conn = null;
    try {
      conn.close();
    } catch {
      // already gone
    }
    this.set({ state: 'disconnected', message });
  }

  private set(next: ConnectionState): void {
    const same = next.state === this.current.state && (next.state !== 'disconnected' || (this.current.state === 'disconnected' && this.current.message === next.message));
    if (same) return;
    this.current = next;
    for (const fn of this.listeners) fn();
  }
}
