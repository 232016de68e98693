import { isUtf8 } from 'node:buffer';
import { ErrorCode } from './codes.js';
import { SigilError, type ErrorDetails } from './errors.js';

/** Protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS = [1] as const;
export const PROTOCOL_VERSION = 1;

export type Args = Record<string, unknown>;

export interface Request {
  v: number;
  id: number;
  op: string;
  args: Args;
}

/** code and message, and the details a client acts on (errors.ts, ErrorDetails). */
export interface WireError extends ErrorDetails {
  code: ErrorCode;
  message: string;
}

export type Response =
  | { id: number | null; ok: true; result: Record<string, unknown> }
  | { id: number | null; ok: false; error: WireError };

// The operations themselves, each with its facts and types: op-catalog.ts.

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Checks the envelope of a decoded request. Throws SigilError with the request id attached
 * when one could be read, so the error frame can still be matched by a pipelining client.
 */
export function parseRequest(msg: unknown): Request {
  if (!isPlainMap(msg)) throw new RequestError(null, ErrorCode.BAD_REQUEST, 'request is not a map');
  const id = msg.id;
  const validId = typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
  if (validId === null) throw new RequestError(null, ErrorCode.BAD_REQUEST, 'request id must be an unsigned integer');
  if (msg.v !== PROTOCOL_VERSION) {
    throw new RequestError(validId, ErrorCode.UNSUPPORTED_VERSION, `protocol version ${String(msg.v)} is not supported (this agent speaks ${PROTOCOL_VERSIONS.join(', ')})`);
  }
  if (typeof msg.op !== 'string' || msg.op.length === 0) throw new RequestError(validId, ErrorCode.BAD_REQUEST, 'request op must be a string');
  const args = msg.args ?? {};
  if (!isPlainMap(args)) throw new RequestError(validId, ErrorCode.BAD_REQUEST, 'request args must be a map');
  return { v: msg.v, id: validId, op: msg.op, args };
}

/** A SigilError that knows which request it answers. */
export class RequestError extends SigilError {
  constructor(
    readonly requestId: number | null,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** Reads a required string argument, naming it (message and field) when absent or mistyped. */
export function stringArg(args: Args, name: string): string;
export function stringArg(args: Args, name: string, opts: { optional: true }): string | undefined;
export function stringArg(args: Args, name: string, opts: { optional?: boolean } = {}): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new SigilError(ErrorCode.BAD_REQUEST, `missing argument "${name}"`, { field: name });
  }
  if (typeof v !== 'string') throw new SigilError(ErrorCode.BAD_REQUEST, `argument "${name}" must be a string`, { field: name });
  return v;
}

/** Reads a secret-bearing argument as bytes (string or bin on the wire). */
export function bytesArg(args: Args, name: string): Buffer {
  const v = args[name];
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw new SigilError(ErrorCode.BAD_REQUEST, v === undefined ? `missing argument "${name}"` : `argument "${name}" must be a string or bytes`, { field: name });
}

/**
 * A secret value as it goes on the wire (get_secret, resolve): a str when it is valid UTF-8
 * text — what clients written for text values read — and bin when it is not, so bytes
 * that are not text come back exactly as they went in (sigil-protocol(7), "Strings and bytes").
 */
export function wireValue(value: Buffer): string | Buffer {
  return isUtf8(value) ? value.toString('utf8') : value;
}

export function numberArg(args: Args, name: string): number | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SigilError(ErrorCode.BAD_REQUEST, `argument "${name}" must be a number`, { field: name });
  return v;
}

/** A whole number from min to max (max: the largest safe integer); names the argument when not. */
export function integerArg(args: Args, name: string, range: { min: number; max?: number }): number | undefined {
  const v = numberArg(args, name);
  if (v === undefined) return undefined;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(v) || v < range.min || v > max) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `argument "${name}" must be a whole number from ${range.min}${range.max === undefined ? '' : ` to ${range.max}`}`, { field: name });
  }
  return v;
}

export function booleanArg(args: Args, name: string): boolean | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new SigilError(ErrorCode.BAD_REQUEST, `argument "${name}" must be true or false`, { field: name });
  return v;
}
