import type { Socket } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { decodeBody, encodeFrame, FrameDecoder, FrameError } from '../protocol/frame.js';
import { parseRequest, RequestError, type Response } from '../protocol/messages.js';
import type { AgentState } from './agent-state.js';
import { dispatch, type Outcome } from './dispatch.js';
import type { OpContext, OpTable } from './op-table.js';
import type { PeerCred } from '../util/peer-cred.js';

/**
 * Past this many requests in flight on one connection we stop reading from it until
 * answers drain: a client cannot make the agent buffer without bound. Far above what a
 * pipelining client needs to saturate the agent.
 */
const MAX_IN_FLIGHT = 256;
/** Likewise for answers the client does not read. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

/** Serves one client connection: frames in, dispatch, frames out (possibly out of order). */
export function serveConnection(socket: Socket, state: AgentState, table: OpTable, peer: PeerCred | null): void {
  const decoder = new FrameDecoder();
  let inFlight = 0;
  let paused = false;
  let closing = false;
  let resolveClosed!: () => void;
  let resolveInputEnded!: () => void;
  const ctx: OpContext = {
    state,
    peer,
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
    socket.write(frame);
  };

  const sendError = (id: number | null, err: SigilError): void => send({ id, ok: false, error: err.toWire() });

  const updateFlow = (): void => {
    const over = inFlight >= MAX_IN_FLIGHT || socket.writableLength > MAX_UNREAD_BYTES;
    if (over && !paused) {
      paused = true;
      socket.pause();
    } else if (!over && paused && !closing) {
      paused = false;
      socket.resume();
    }
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
    updateFlow();
    const id = req.id;
    return out.then((o) => reply(id, o)).finally(() => {
      inFlight--;
      updateFlow();
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

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let bodies: Buffer[];
    try {
      bodies = decoder.push(chunk);
    } catch (err) {
      // A bad length: frame boundaries are lost (DESIGN.md: error frame, then close). The
      // requests that came whole before it — possibly in this very chunk — are answered
      // first; then the error frame, then the connection is closed for good.
      closing = true; // later bytes are read and dropped
      const framing = err instanceof FrameError ? err : new SigilError(ErrorCode.BAD_REQUEST, 'bad frame');
      for (const body of framing instanceof FrameError ? framing.frames : []) start(body);
      void Promise.allSettled([...active]).then(() => {
        sendError(null, framing);
        // Close both directions once the answer is flushed: a peer that keeps its side
        // open must not hold a connection slot after a framing error.
        socket.end(() => socket.destroy());
        setTimeout(() => socket.destroy(), 5000).unref(); // a peer that never reads
      });
      return;
    }
    for (const body of bodies) start(body);
  });
  // A client may send its requests and shut down its side (`nc -U`, socat): answer what
  // came whole, then close. Without half-open, Node would end our side at once and drop
  // answers still being computed (an unlock, a token refresh).
  socket.allowHalfOpen = true;
  socket.on('end', () => {
    resolveInputEnded();
    if (closing) return;
    closing = true;
    void Promise.allSettled([...active]).then(() => socket.end());
  });
  socket.on('drain', updateFlow);
  socket.on('error', () => {}); // a client vanishing mid-answer is normal; 'close' follows
  socket.on('close', () => {
    resolveInputEnded();
    resolveClosed();
  });
}
