import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { decodeBody, encodeFrame } from '../protocol/frame.js';
import { PROTOCOL_VERSION, PROTOCOL_VERSIONS, type Args } from '../protocol/messages.js';
import type { OpArgs } from '../protocol/op-catalog.js';

/**
 * Requests out and answers in, for both transports: what a request frame holds, and what an
 * answer frame means (a result, a SigilError, or an error about the whole connection).
 */

export function requestFrame(id: number, op: string, args: Args): Buffer {
  return encodeFrame({ v: PROTOCOL_VERSION, id, op, args });
}

/** `hello` names the client in the agent's audit log and negotiates the version. */
export function helloArgs(client: string): OpArgs<'hello'> {
  return { client, versions: [...PROTOCOL_VERSIONS] };
}

/**
 * What one frame from the agent says. `id` null: an error about the connection itself (e.g.
 * an oversized frame we sent), which fails every request on it. Otherwise the answer to
 * request `id`: its result, or its error as a SigilError.
 */
export interface Reply {
  id: unknown;
  outcome: Record<string, unknown> | SigilError;
}

/** null: nothing to act on (not a map, or an id-less answer that is not an error). */
export function readReply(body: Buffer): Reply | null {
  let msg: { id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
  try {
    msg = decodeBody(body) as typeof msg;
  } catch {
    throw new SigilError(ErrorCode.INTERNAL, 'the agent sent an undecodable frame');
  }
  if (typeof msg !== 'object' || msg === null) return null;
  if (msg.id === null || msg.id === undefined) {
    return msg.ok === false ? { id: null, outcome: SigilError.fromWire(msg.error) } : null;
  }
  return { id: msg.id, outcome: msg.ok === true ? ((msg.result ?? {}) as Record<string, unknown>) : SigilError.fromWire(msg.error) };
}
