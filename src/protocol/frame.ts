import { ErrorCode } from './codes.js';
import { SigilError } from './errors.js';
import { decode, encode } from './msgpack.js';

/** DESIGN.md: 1 ≤ N ≤ 1 MiB. The cap is checked on the header, before the body is buffered. */
export const MAX_FRAME = 1024 * 1024;
const HEADER = 4;

/** One message as a frame: 4-byte big-endian length, then the MessagePack body. */
export function encodeFrame(message: unknown): Buffer {
  const body = encode(message);
  if (body.length > MAX_FRAME) {
    throw new SigilError(ErrorCode.FRAME_TOO_LARGE, `message of ${body.length} bytes exceeds the 1 MiB frame limit`);
  }
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, HEADER);
  return out;
}

/** A frame body that arrived whole; decoding it may still fail (BAD_REQUEST). */
export function decodeBody(body: Buffer): unknown {
  return decode(body);
}

/**
 * A bad length: the stream can no longer be split into frames. `frames` holds the bodies
 * that the failing push completed before the bad header, so a pipelined request sent just
 * ahead of the garbage still gets its answer.
 */
export class FrameError extends SigilError {
  frames: Buffer[] = [];
}

/**
 * Splits a byte stream into frame bodies, whatever the chunking. A bad length is fatal to
 * the stream (the reader can no longer find frame boundaries): `push` throws a FrameError
 * once and every later call throws the same error. Bodies completed by the failing push
 * ride on the error's `frames` (the first throw only; later throws carry none).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // body length of the frame being read; -1 while reading a header
  private failed: FrameError | null = null;

  /** Feeds bytes; returns the bodies completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) {
      this.failed.frames = [];
      throw this.failed;
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < HEADER) break;
        const n = this.take(HEADER).readUInt32BE(0);
        if (n === 0) this.fail(ErrorCode.BAD_REQUEST, 'zero-length frame', out);
        if (n > MAX_FRAME) this.fail(ErrorCode.FRAME_TOO_LARGE, `frame of ${n} bytes exceeds the 1 MiB limit`, out);
        this.need = n;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** Bytes held that do not yet form a frame (0 at a clean frame boundary). */
  get pending(): number {
    return this.buffered + (this.need >= 0 ? HEADER : 0);
  }

  private fail(code: ErrorCode, message: string, completed: Buffer[]): never {
    this.failed = new FrameError(code, message);
    this.failed.frames = completed;
    this.chunks = [];
    this.buffered = 0;
    throw this.failed;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
