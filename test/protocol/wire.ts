import { connect, type Socket } from 'node:net';
import { decodeBody, encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';

/** A decoded answer frame as the agent sends it. */
export interface Answer {
  id: number | null;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/**
 * A bare connection to the agent's socket for tests that must send what the client library
 * never would: raw bytes, bad frames, wrong envelopes. Answers are decoded and collected.
 */
export class RawConn {
  readonly answers: Answer[] = [];
  /** Set when the agent sent something that is not a well-formed answer frame. */
  protocolError: string | null = null;
  closed = false;
  private readonly decoder = new FrameDecoder();
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const body of this.decoder.push(chunk)) {
          const msg = decodeBody(body) as Answer;
          if (typeof msg !== 'object' || msg === null || typeof msg.ok !== 'boolean') {
            this.protocolError ??= `answer is not an answer map: ${JSON.stringify(msg)}`;
          }
          this.answers.push(msg);
        }
      } catch (err) {
        this.protocolError ??= `agent sent a bad frame: ${(err as Error).message}`;
      }
      this.wake();
    });
    socket.on('error', () => {}); // ECONNRESET/EPIPE after the agent closes: 'close' follows
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string, timeoutMs = 5000): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${path} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new RawConn(s));
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || this.socket.writableEnded) return resolve();
      this.socket.write(bytes, () => resolve()); // resolves on error too: the peer may be gone
    });
  }

  send(message: unknown): Promise<void> {
    return this.write(encodeFrame(message));
  }

  /** Resolves once `cond` holds, re-checked on every answer and on close. */
  until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!cond()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what} (${this.answers.length} answers, closed=${this.closed})`));
      }, timeoutMs);
      const waiter = (): void => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** Waits for n answers; fails at once if the connection closes with fewer. */
  async answersAtLeast(n: number, timeoutMs?: number): Promise<void> {
    await this.until(() => this.answers.length >= n || this.closed, timeoutMs, `${n} answers`);
    if (this.answers.length < n) throw new Error(`the agent closed the connection after ${this.answers.length} of ${n} answers`);
  }

  whenClosed(timeoutMs?: number): Promise<void> {
    return this.until(() => this.closed, timeoutMs, 'close');
  }

  /** Sends one request and waits for the answer carrying its id. */
  async call(id: number, op: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<Answer> {
    await this.send({ v: 1, id, op, args });
    let found: Answer | undefined;
    await this.until(() => (found = this.answers.find((a) => a.id === id)) !== undefined, timeoutMs, `answer ${id}`);
    return found!;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

export function header(n: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n >>> 0);
  return h;
}

export function rawFrame(body: Uint8Array): Buffer {
  return Buffer.concat([header(body.length), body]);
}
