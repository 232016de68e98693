import { connect, type Socket } from 'node:net';
import { SigilError } from '../protocol/errors.js';
import { FrameDecoder, FrameError } from '../protocol/frame.js';
import type { Args } from '../protocol/messages.js';
import type { Op, OpAnswer, OpArgs } from '../protocol/op-catalog.js';
import type { HelloAnswer } from '../protocol/results.js';
import {
  agentClosed,
  connectFailed,
  connectTimedOut,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  noAnswer,
  resolveSocketPath,
  type EndpointOptions,
} from './agent-endpoint.js';
import { checkAgentPeer } from './agent-trust.js';
import { helloArgs, readReply, requestFrame, type Reply } from './wire.js';

export { resolveSocketPath } from './agent-endpoint.js';

/**
 * The one client library: the CLI, `sigil-token` (when its native client is not there)
 * and the TUI all talk to the agent through it. It pipelines requests over one connection
 * and matches answers by id.
 */
export interface ClientOptions extends EndpointOptions {
  /** How long to wait for the socket to accept (ms). */
  connectTimeoutMs?: number;
  /**
   * Names this client in the agent's audit log: a `hello` is pipelined ahead of the first
   * request, so it costs no round trip.
   */
  clientName?: string;
}

export interface RequestOptions {
  /** 0 waits for ever (flows); the default suits every quick op. */
  timeoutMs?: number;
}

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: SigilError): void;
  timer: NodeJS.Timeout | undefined;
}

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder();
  private closedWith: SigilError | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {}); // 'close' follows and reports
    socket.on('close', () => this.fail(agentClosed(socketPath)));
  }

  static connect(opts: ClientOptions = {}): Promise<AgentClient> {
    const endpoint = resolveSocketPath(opts);
    const { path } = endpoint;
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(connectTimedOut(endpoint));
      }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        try {
          checkAgentPeer(endpoint, socket);
        } catch (err) {
          socket.destroy();
          return reject(err);
        }
        const client = new AgentClient(socket, path);
        if (opts.clientName) client.hello(opts.clientName).catch(() => {});
        resolve(client);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectFailed(endpoint, err));
      });
    });
  }

  request<T = Record<string, unknown>>(op: string, args: Args = {}, opts: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    let frame: Buffer;
    try {
      frame = requestFrame(id, op, args);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(noAnswer(this.socketPath, op, timeoutMs));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, timer });
      this.socket.write(frame);
    });
  }

  /** A request typed by the op catalogue: the op's arguments in, its result out. */
  call<O extends Op>(op: O, ...[args, opts]: CallRest<O>): Promise<OpAnswer<O>> {
    return this.request<OpAnswer<O>>(op, (args ?? {}) as Args, opts);
  }

  /** Negotiates the protocol version; UNSUPPORTED_VERSION when there is none in common. */
  hello(client: string): Promise<HelloAnswer> {
    return this.call('hello', helloArgs(client));
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** Keeps the process alive only while requests are outstanding. */
  unref(): void {
    this.socket.unref();
  }

  private onData(chunk: Buffer): void {
    let bodies: Buffer[];
    let broken: SigilError | null = null;
    try {
      bodies = this.decoder.push(chunk);
    } catch (err) {
      // Answers that came whole before the bad length still count.
      broken = err as SigilError;
      bodies = err instanceof FrameError ? err.frames : [];
    }
    this.deliver(bodies);
    if (broken) {
      this.fail(broken);
      this.socket.destroy();
    }
  }

  private deliver(bodies: Buffer[]): void {
    for (const body of bodies) {
      let reply: Reply | null;
      try {
        reply = readReply(body);
      } catch (err) {
        this.fail(err as SigilError);
        this.socket.destroy();
        return;
      }
      if (!reply) continue;
      if (reply.id === null) {
        this.fail(reply.outcome as SigilError);
        continue;
      }
      const p = this.pending.get(reply.id as number);
      if (!p) continue; // answer to a request that already timed out
      this.pending.delete(reply.id as number);
      if (p.timer) clearTimeout(p.timer);
      if (reply.outcome instanceof SigilError) p.reject(reply.outcome);
      else p.resolve(reply.outcome);
    }
  }

  private fail(err: SigilError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

/** The rest of a typed call: the arguments (optional when the op needs none), then the options. */
export type CallRest<O extends Op> = Record<string, never> extends OpArgs<O> ? [args?: OpArgs<O>, opts?: RequestOptions] : [args: OpArgs<O>, opts?: RequestOptions];

/** One typed request on a fresh connection, closed afterwards. */
export async function requestOnce<O extends Op>(op: O, args: OpArgs<O>, opts: ClientOptions & RequestOptions = {}): Promise<OpAnswer<O>> {
  const client = await AgentClient.connect(opts);
  try {
    return await client.request<OpAnswer<O>>(op, args as Args, opts);
  } finally {
    client.close();
  }
}
