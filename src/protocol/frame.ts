import { ErrorCode } from './codes.js';
import { SigilError } from './errors.js';
import { decode, encodeAfter } from './msgpack.js';

/** DESIGN.md: 1 ≤ N ≤ 1 MiB. The cap is checked on the header, before the body is buffered. */
export const MAX_FRAME = 1024 * 1024;
const HEADER = 4;

/** One message as a frame: 4-byte big-endian length, then the MessagePack body. */
export function encodeFrame(message: unknown): Buffer {
  const out = encodeAfter(HEADER, message);
  const length = out.length - HEADER;
  if (length > MAX_FRAME) {
    throw new SigilError(ErrorCode.FRAME_TOO_LARGE, `message of ${length} bytes exceeds the 1 MiB frame limit`);
  }
  // By hand rather than writeUInt32BE: see msgpack.ts on first-call costs.
  out[0] = length >>> 24;
  out[1] = (length >>> 16) & 0xff;
  out[2] = (length >>> 8) & 0xff;
  out[3] = length & 0xff;
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

/** The error for a length that no frame may have (0, or over the cap); null for a good one. */
export function badFrameLength(n: number): FrameError | null {
  if (n === 0) return new FrameError(ErrorCode.BAD_REQUEST, 'zero-length frame');
  if (n > MAX_FRAME) return new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame of ${n} bytes exceeds the 1 MiB limit`);
  return null;
}

/**
 * Splits a byte stream into frame bodies, whatever the chunking. A bad length is fatal to
 * the stream (the reader can no longer find frame boundaries): `push` throws a FrameError
 * once and every later call throws the same error. Bodies completed by the failing push
 * ride on the error's `frames` (the first throw only; later throws carry none).
 */
export class FrameDecoder {
  /**
   * The frame being assembled across chunks (header, then body), in one buffer that grows by
   * doubling: linear time and at most twice the bytes received, however small the chunks.
   * (A list of chunks costs an object per chunk and, with shift(), quadratic time: a client
   * trickling a 1 MiB frame a byte at a time would stall the agent for minutes.)
   */
  private acc: Buffer | null = null;
  private accLen = 0;
  private failed: FrameError | null = null;

  /** Feeds bytes; returns the bodies completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) {
      this.failed.frames = [];
      throw this.failed;
    }
    const out: Buffer[] = [];
    let pos = this.accLen > 0 ? this.fill(chunk, out) : 0;
    // Whole frames straight out of the chunk, without a copy.
    while (this.accLen === 0 && chunk.length - pos >= HEADER) {
      const n = chunk.readUInt32BE(pos);
      this.check(n, out);
      if (chunk.length - pos - HEADER < n) break;
      out.push(chunk.subarray(pos + HEADER, pos + HEADER + n));
      pos += HEADER + n;
    }
    // The start of a frame: kept (its length, if complete, was checked above).
    if (pos < chunk.length) this.append(chunk, pos, chunk.length - pos);
    return out;
  }

  /** Bytes held that do not yet form a frame (0 at a clean frame boundary). */
  get pending(): number {
    return this.accLen;
  }

  /** Continues the frame in `acc` with bytes from the start of `chunk`; returns how many it took. */
  private fill(chunk: Buffer, out: Buffer[]): number {
    let pos = 0;
    if (this.accLen < HEADER) {
      const k = Math.min(HEADER - this.accLen, chunk.length);
      this.append(chunk, 0, k);
      pos = k;
      if (this.accLen < HEADER) return pos;
      this.check(this.acc!.readUInt32BE(0), out);
    }
    const total = HEADER + this.acc!.readUInt32BE(0);
    const k = Math.min(total - this.accLen, chunk.length - pos);
    this.append(chunk, pos, k);
    pos += k;
    if (this.accLen === total) {
      out.push(this.acc!.subarray(HEADER, total));
      this.acc = null;
      this.accLen = 0;
    }
    return pos;
  }

  private check(n: number, completed: Buffer[]): void {
    const bad = badFrameLength(n);
    if (bad) this.fail(bad, completed);
  }

  private append(src: Buffer, start: number, len: number): void {
    if (len === 0) return;
    const needed = this.accLen + len;
    if (!this.acc || this.acc.length < needed) {
      // Double, but never past the largest frame: memory follows the bytes actually sent.
      const size = Math.max(needed, Math.min(2 * (this.acc?.length ?? 0), HEADER + MAX_FRAME), 64);
      const next = Buffer.alloc(size);
      if (this.acc) this.acc.copy(next, 0, 0, this.accLen);
      this.acc = next;
    }
    src.copy(this.acc, this.accLen, start, start + len);
    this.accLen = needed;
  }

  private fail(error: FrameError, completed: Buffer[]): never {
    this.failed = error;
    this.failed.frames = completed;
    this.acc = null;
    this.accLen = 0;
    throw this.failed;
  }
}
