import { Transform, type TransformCallback } from 'node:stream';

/** What `sigil run` prints in place of a resolved value (as `op run` prints `<concealed by 1password>`). */
export const MASK = '<concealed by sigil>';

/**
 * Values shorter than this are not masked: a 1- or 2-character value ("1", "on", "us")
 * would turn ordinary output into confetti of masks while hiding nothing worth hiding.
 */
export const MIN_MASKED_LENGTH = 3;

/** How long a possible start of a secret is held back when the child goes quiet. */
export const DEFAULT_FLUSH_MS = 250;

/** Past this much held output (only reachable with secrets that overlap themselves in a long run), flush. */
const MAX_HELD = 1024 * 1024;

/**
 * Replaces every occurrence of the given values in a byte stream with MASK, including an
 * occurrence split across chunks. Bytes are passed on at once, except a tail that could be
 * the beginning of a value (the longest suffix that is a proper prefix of one): that tail
 * waits for the next chunk, for flush(), or for the caller's idle timer. Overlapping
 * occurrences of several values are masked as one region, so no part of either shows.
 */
export class SecretMasker {
  private readonly secrets: Buffer[];
  private readonly mask: Buffer;
  private pending: Buffer = Buffer.alloc(0);

  constructor(values: Iterable<string>, mask = MASK) {
    const unique = new Set<string>();
    for (const v of values) if ([...v].length >= MIN_MASKED_LENGTH) unique.add(v);
    this.secrets = [...unique].map((v) => Buffer.from(v, 'utf8')).sort((a, b) => b.length - a.length);
    this.mask = Buffer.from(mask, 'utf8');
  }

  /** False when there is nothing to mask (every value was too short): pass output through untouched. */
  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** Whether bytes are held back waiting to see if they start a value. */
  get holding(): boolean {
    return this.pending.length > 0;
  }

  /** Takes a chunk; returns what can be shown now. */
  push(chunk: Buffer): Buffer {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const regions = this.regions(buf);
    let hold = this.prefixStart(buf);
    // A masked region running into the held tail is held whole, so it is found again
    // (and masked whole) once the tail is complete.
    for (const [start, end] of regions) if (start < hold && end > hold) hold = start;
    if (buf.length - hold > MAX_HELD) hold = buf.length;
    const out = this.render(buf, regions, hold);
    this.pending = hold < buf.length ? Buffer.from(buf.subarray(hold)) : Buffer.alloc(0);
    return out;
  }

  /** Everything held, masked: at the end of the stream, or when the child has gone quiet. */
  flush(): Buffer {
    const buf = this.pending;
    this.pending = Buffer.alloc(0);
    return this.render(buf, this.regions(buf), buf.length);
  }

  /** Every occurrence of every value, merged where they overlap: sorted [start, end) pairs. */
  private regions(buf: Buffer): Array<[number, number]> {
    const found: Array<[number, number]> = [];
    for (const s of this.secrets) {
      for (let p = buf.indexOf(s); p !== -1; p = buf.indexOf(s, p + 1)) found.push([p, p + s.length]);
    }
    found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged: Array<[number, number]> = [];
    for (const r of found) {
      const last = merged[merged.length - 1];
      if (last && r[0] < last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    return merged;
  }

  /** Start of the longest suffix of buf that is a proper prefix of some value; buf.length if none. */
  private prefixStart(buf: Buffer): number {
    let best = buf.length;
    for (const s of this.secrets) {
      const first = s[0]!;
      for (let p = buf.indexOf(first, Math.max(0, buf.length - s.length + 1)); p !== -1 && p < best; p = buf.indexOf(first, p + 1)) {
        if (buf.subarray(p).equals(s.subarray(0, buf.length - p))) {
          best = p;
          break;
        }
      }
    }
    return best;
  }

  private render(buf: Buffer, regions: Array<[number, number]>, upTo: number): Buffer {
    const parts: Buffer[] = [];
    let at = 0;
    for (const [start, end] of regions) {
      if (start >= upTo) break;
      parts.push(buf.subarray(at, start), this.mask);
      at = end;
    }
    if (at < upTo) parts.push(buf.subarray(at, upTo));
    return Buffer.concat(parts);
  }
}

/**
 * A SecretMasker as a stream. A held tail is shown (masked as far as it can tell) after
 * `flushMs` without new output, so a prompt that happens to end like the start of a
 * value is not held back for long; the stream's end flushes everything.
 */
export class MaskingStream extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly masker: SecretMasker,
    private readonly flushMs = DEFAULT_FLUSH_MS,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.stopTimer();
    const out = this.masker.push(chunk);
    if (out.length) this.push(out);
    if (this.masker.holding) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const held = this.masker.flush();
        if (held.length) this.push(held);
      }, this.flushMs);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.stopTimer();
    const held = this.masker.flush();
    if (held.length) this.push(held);
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.stopTimer();
    done(err);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
