import type { Socket } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { decodeBody, encodeFrame, FrameDecoder, FrameError } from '../protocol/frame.js';
import { parseRequest, RequestError, type Response } from '../protocol/messages.js';
import type { AgentState } from './agent-state.js';
import { dispatch, type Outcome } from './dispatch.js';
import type { OpContext, OpTable } from './op-table.js';
import type { Caller } from './caller/caller.js';

/**
 * Past this many requests in flight on one connection we stop reading from it until
 * answers drain: a client cannot make the agent buffer without bound. Far above what a
 * pipelining client needs to saturate the agent.
 */
const MAX_IN_FLIGHT = 256;
/**
 * Likewise for answers the client does not read: the bound sigil-protocol(7) promises. It
 * holds for every answer, also those made at once (a hello, a cached token) — those never
 * touch a promise, so the check is made after each one, not when a promise settles.
 */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/**
 * A frame must arrive whole within this long of its first byte. A client that sends three
 * header bytes and then one byte a second would otherwise hold its slot for ever; a 1 MiB
 * frame needs only 100 KiB/s, which even an SSH-forwarded socket on a poor link manages.
 */
export const FRAME_DEADLINE_MS = 10_000;

/**
 * A counter instead of a clock: choosing the connection idle the longest needs only the
 * order of events, and reading the time on every request and answer cost the hot path
 * ~11 % of its CPU per request (46.7 → 41.6 µs in npm run bench, 32 connections).
 */
let activity = 0;

/** What the connection cap needs to know about a connection (see ConnectionPool). */
export interface ConnectionHandle {
  /** When a byte last came in or an answer went out, as a tick of {@link activity}: only the order matters. */
  readonly lastActive: number;
  /** Requests being answered or waiting: a connection in a flow or a long poll is not idle. */
  readonly busy: boolean;
  /** Closes the connection at once. */
  close(): void;
}

export interface ConnectionOptions {
  frameDeadlineMs?: number;
}

/**
 * Serves one client connection, a session with one caller, whichever transport accepted it:
 * frames in, dispatch, frames out (possibly out of order).
 */
export function serveConnection(socket: Socket, state: AgentState, table: OpTable, caller: Caller, opts: ConnectionOptions = {}): ConnectionHandle {
  const frameDeadlineMs = opts.frameDeadlineMs ?? FRAME_DEADLINE_MS;
  const decoder = new FrameDecoder();
  /** Whole frames read but not yet handled: they wait while the connection is over its bounds. */
  const queue: Buffer[] = [];
  let inFlight = 0;
  let paused = false;
  let closing = false; // no more requests are taken (bad framing, deadline, or the client's end)
  let inputDone = false; // the client shut its side down: answer what came, then end ours
  let lastActive = ++activity;
  let deadline: NodeJS.Timeout | null = null;
  let resolveClosed!: () => void;
  let resolveInputEnded!: () => void;
  const ctx: OpContext = {
    state,
    caller,
    client: undefined,
    setClient(name) {
      ctx.client = name;
    },
    closed: new Promise<void>((r) => (resolveClosed = r)),
    inputEnded: new Promise<void>((r) => (resolveInputEnded = r)),
  };

  const send = (response: Response): void => {
    if (socket.destroyed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(response);
    } catch (err) {
      const e = err instanceof SigilError ? err : new SigilError(ErrorCode.INTERNAL, 'could not encode the answer');
      frame = encodeFrame({ id: response.id, ok: false, error: e.toWire() });
    }
    lastActive = ++activity;
    socket.write(frame);
  };

  const sendError = (id: number | null, err: SigilError): void => send({ id, ok: false, error: err.toWire() });

  const over = (): boolean => inFlight >= MAX_IN_FLIGHT || socket.writableLength > MAX_UNREAD_BYTES;

  /** The frame deadline runs only while we are reading: a pause of ours is not the client's delay. */
  const armDeadline = (): void => {
    if (decoder.pending > 0 && !paused && !closing) {
      deadline ??= setTimeout(frameTooSlow, frameDeadlineMs);
    } else if (deadline) {
      clearTimeout(deadline);
      deadline = null;
    }
  };

  const frameTooSlow = (): void => {
    deadline = null;
    state.log(`closing a connection (pid ${caller.peer?.pid ?? '?'}): a frame did not arrive whole within ${frameDeadlineMs / 1000} s`);
    closeAfter(new SigilError(ErrorCode.BAD_REQUEST, `a frame did not arrive whole within ${frameDeadlineMs / 1000} s; closing the connection`));
  };

  /** Reads while within the bounds, stops reading while over them. */
  const updateFlow = (): void => {
    const stop = over() || queue.length > 0;
    if (stop && !paused) {
      paused = true;
      socket.pause();
    } else if (!stop && paused && !closing && !inputDone) {
      paused = false;
      socket.resume();
    }
    armDeadline();
  };

  const reply = (id: number, out: Outcome): void => {
    if (out instanceof SigilError) sendError(id, out);
    else send({ id, ok: true, result: out });
  };

  /** Answers one frame; a promise only when the answer is not ready at once. */
  const handle = (body: Buffer): void | Promise<void> => {
    let msg: unknown;
    try {
      msg = decodeBody(body);
    } catch (err) {
      // The framing is intact, so the connection can go on; the id is unknowable.
      return sendError(null, new SigilError(ErrorCode.BAD_REQUEST, `undecodable frame: ${(err as Error).message}`));
    }
    let req;
    try {
      req = parseRequest(msg);
    } catch (err) {
      const e = err as RequestError;
      return sendError(e.requestId ?? null, e);
    }
    const out = dispatch(table, ctx, req);
    if (!(out instanceof Promise)) return reply(req.id, out);
    inFlight++;
    const id = req.id;
    return out.then((o) => reply(id, o)).finally(() => {
      inFlight--;
      pump();
    });
  };

  // Every request being answered, so a closing connection can answer them before it goes.
  const active = new Set<Promise<void>>();
  const start = (body: Buffer): void => {
    const p = handle(body);
    if (!p) return;
    active.add(p);
    void p.finally(() => active.delete(p));
  };

  /** Handles queued frames until the queue is empty or a bound is reached. */
  const pump = (): void => {
    while (queue.length > 0 && !over()) start(queue.shift()!);
    updateFlow();
    if (inputDone && queue.length === 0 && !closing) {
      closing = true;
      void Promise.allSettled([...active]).then(() => socket.end());
    }
  };

  /** Ends the connection for good after `error`, once the answers being made are sent. */
  const closeAfter = (error: SigilError): void => {
    closing = true; // later bytes are read and dropped
    queue.length = 0;
    armDeadline();
    if (paused) socket.resume(); // drain what the client still sends, so it sees the error
    void Promise.allSettled([...active]).then(() => {
      sendError(null, error);
      // Close both directions once the answer is flushed: a peer that keeps its side
      // open must not hold a connection slot after a framing error.
      socket.end(() => socket.destroy());
      setTimeout(() => socket.destroy(), 5000).unref(); // a peer that never reads
    });
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    lastActive = ++activity;
    let bodies: Buffer[];
    try {
      bodies = decoder.push(chunk);
    } catch (err) {
      // A bad length: frame boundaries are lost (DESIGN.md: error frame, then close). The
      // requests that came whole before it — possibly in this very chunk — are answered
      // first; then the error frame, then the connection is closed for good.
      const framing = err instanceof FrameError ? err : new SigilError(ErrorCode.BAD_REQUEST, 'bad frame');
      for (const body of queue.splice(0)) start(body);
      for (const body of framing instanceof FrameError ? framing.frames : []) start(body);
      closeAfter(framing);
      return;
    }
    // A frame completed: the deadline is per frame, so the next one gets its own.
    if (bodies.length > 0 && deadline) {
      clearTimeout(deadline);
      deadline = null;
    }
    for (const body of bodies) queue.push(body);
    pump();
  });
  // A client may send its requests and shut down its side (`nc -U`, socat): answer what
  // came whole, then close. Without half-open, Node would end our side at once and drop
  // answers still being computed (an unlock, a token refresh).
  socket.allowHalfOpen = true;
  socket.on('end', () => {
    resolveInputEnded();
    inputDone = true;
    if (!closing) pump();
  });
  socket.on('drain', pump);
  socket.on('error', () => {}); // a client vanishing mid-answer is normal; 'close' follows
  socket.on('close', () => {
    if (deadline) clearTimeout(deadline);
    deadline = null;
    closing = true;
    queue.length = 0;
    resolveInputEnded();
    resolveClosed();
  });

  return {
    get lastActive() {
      return lastActive;
    },
    get busy() {
      return inFlight > 0 || queue.length > 0;
    },
    close() {
      socket.destroy();
    },
  };
}
