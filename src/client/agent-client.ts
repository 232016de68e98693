import { connect, type Socket } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { decodeBody, encodeFrame, FrameDecoder, FrameError } from '../protocol/frame.js';
import { PROTOCOL_VERSION, PROTOCOL_VERSIONS, type Args } from '../protocol/messages.js';
import { defaultSocketPath } from '../util/paths.js';

/**
 * The one client library: the CLI, `sigil-token` and the TUI all talk to the agent
 * through it. It pipelines requests over one connection and matches answers by id.
 */
export interface ClientOptions {
  /** Defaults to $SIGIL_AUTH_SOCK, then the default socket path. */
  socketPath?: string;
  /** How long to wait for the socket to accept (ms). */
  connectTimeoutMs?: number;
  env?: Record<string, string | undefined>;
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

/** Long enough for an unlock (one scrypt, ~1 s) on a loaded machine. */
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: SigilError): void;
  timer: NodeJS.Timeout | undefined;
}

export function resolveSocketPath(opts: ClientOptions = {}): { path: string; fromEnv: boolean } {
  if (opts.socketPath) return { path: opts.socketPath, fromEnv: false };
  const env = opts.env ?? process.env;
  const fromEnv = env.SIGIL_AUTH_SOCK;
  if (fromEnv) return { path: fromEnv, fromEnv: true };
  return { path: defaultSocketPath(env), fromEnv: false };
}

function noAgent(path: string, fromEnv: boolean, reason: string): SigilError {
  const where = fromEnv ? `SIGIL_AUTH_SOCK=${path}` : path;
  if (reason === 'permission denied') {
    // Not a missing agent: someone else's socket (or directory). Starting another will not help.
    return new SigilError(ErrorCode.NO_AGENT, `cannot connect to ${where}: permission denied (the socket or its directory belongs to another user)`);
  }
  return new SigilError(
    ErrorCode.NO_AGENT,
    `no agent answers at ${where} (${reason}) — start one with: eval "$(sigil-agent)"`,
  );
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
    socket.on('close', () => this.fail(new SigilError(ErrorCode.NO_AGENT, `the agent at ${socketPath} closed the connection`)));
  }

  static connect(opts: ClientOptions = {}): Promise<AgentClient> {
    const { path, fromEnv } = resolveSocketPath(opts);
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(noAgent(path, fromEnv, 'timed out connecting'));
      }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const client = new AgentClient(socket, path);
        if (opts.clientName) client.hello(opts.clientName).catch(() => {});
        resolve(client);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const reason =
          err.code === 'ENOENT' ? 'no such socket' : err.code === 'ECONNREFUSED' ? 'nothing listening' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
        reject(noAgent(path, fromEnv, reason));
      });
    });
  }

  request<T = Record<string, unknown>>(op: string, args: Args = {}, opts: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame({ v: PROTOCOL_VERSION, id, op, args });
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new SigilError(ErrorCode.NO_AGENT, `the agent at ${this.socketPath} did not answer "${op}" within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, timer });
      this.socket.write(frame);
    });
  }

  /** Negotiates the protocol version; UNSUPPORTED_VERSION when there is none in common. */
  hello(client: string): Promise<{ version: number; agent: string; pid: number }> {
    return this.request('hello', { client, versions: [...PROTOCOL_VERSIONS] });
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
      let msg: { id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
      try {
        msg = decodeBody(body) as typeof msg;
      } catch {
        this.fail(new SigilError(ErrorCode.INTERNAL, 'the agent sent an undecodable frame'));
        this.socket.destroy();
        return;
      }
      if (typeof msg !== 'object' || msg === null) continue;
      if (msg.id === null || msg.id === undefined) {
        // An error about the connection itself (e.g. an oversized frame we sent).
        if (msg.ok === false) this.fail(SigilError.fromWire(msg.error));
        continue;
      }
      const p = this.pending.get(msg.id as number);
      if (!p) continue; // answer to a request that already timed out
      this.pending.delete(msg.id as number);
      if (p.timer) clearTimeout(p.timer);
      if (msg.ok === true) p.resolve((msg.result ?? {}) as Record<string, unknown>);
      else p.reject(SigilError.fromWire(msg.error));
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

/** One request on a fresh connection, closed afterwards: what most CLI commands need. */
export async function requestOnce<T = Record<string, unknown>>(
  op: string,
  args: Args = {},
  opts: ClientOptions & RequestOptions = {},
): Promise<T> {
  const client = await AgentClient.connect(opts);
  try {
    return await client.request<T>(op, args, opts);
  } finally {
    client.close();
  }
}
