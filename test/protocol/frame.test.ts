import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { decodeBody, encodeFrame, FrameDecoder, FrameError, MAX_FRAME } from '../../src/protocol/frame.js';
import { MsgpackError } from '../../src/protocol/msgpack.js';

/*
 * The framing layer: a 4-byte big-endian length, then the body. Property tests feed random
 * frame streams through random chunkings; the cap and the zero length are checked on the
 * header alone.
 */

function header(n: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n);
  return h;
}

function rawFrame(body: Uint8Array): Buffer {
  return Buffer.concat([header(body.length), body]);
}

/** Cuts `bytes` at the given offsets (any order, duplicates make empty chunks). */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Pushes every chunk, checking `pending` after each, and returns the bodies in order. */
function feed(decoder: FrameDecoder, chunks: Buffer[], frameSizes: number[]): Buffer[] {
  const bodies: Buffer[] = [];
  let pushed = 0;
  let consumed = 0;
  for (const c of chunks) {
    // A fresh copy per push, as a socket gives: bodies may alias it, and are compared at the end.
    const got = decoder.push(Buffer.from(c));
    pushed += c.length;
    for (const b of got) {
      bodies.push(b);
      consumed += 4 + frameSizes[bodies.length - 1]!;
    }
    expect(decoder.pending).toBe(pushed - consumed);
  }
  return bodies;
}

const arbBody = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => new Uint8Array(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 150_000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff)) },
);
const arbMessage = fc.record({
  v: fc.constant(1),
  id: fc.maxSafeNat(),
  op: fc.string({ maxLength: 16 }),
  args: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u))), { noNullPrototype: true, maxKeys: 4 }),
});

describe('FrameDecoder: random frame streams, random chunking', () => {
  it('returns the same bodies in the same order whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(arbBody, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(), { maxLength: 60 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map(rawFrame));
        const got = feed(new FrameDecoder(), chunk(stream, cuts), bodies.map((b) => b.length));
        expect(got.length).toBe(bodies.length);
        got.forEach((b, i) => expect(Buffer.compare(b, Buffer.from(bodies[i]!)), `body ${i}`).toBe(0));
      }),
      { numRuns: 400 },
    );
  });

  it('handles 1-byte chunks and a whole stream coalesced into one chunk', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 12 }), (bodies) => {
        const stream = Buffer.concat(bodies.map(rawFrame));
        const sizes = bodies.map((b) => b.length);
        const ones = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
        for (const chunks of [ones, [stream]]) {
          const got = feed(new FrameDecoder(), chunks, sizes);
          expect(got.map((b) => b.toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('carries encoded messages through intact (encodeFrame → chunks → decodeBody)', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const frames = messages.map((m) => encodeFrame(m));
        for (const f of frames) expect(f.readUInt32BE(0)).toBe(f.length - 4);
        const got = feed(new FrameDecoder(), chunk(Buffer.concat(frames), cuts), frames.map((f) => f.length - 4));
        expect(got.map((b) => decodeBody(b))).toEqual(messages);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts empty chunks anywhere', () => {
    const d = new FrameDecoder();
    expect(d.push(Buffer.alloc(0))).toEqual([]);
    const f = rawFrame(Buffer.from('abc'));
    expect(d.push(f.subarray(0, 2))).toEqual([]);
    expect(d.push(Buffer.alloc(0))).toEqual([]);
    expect(d.push(f.subarray(2)).map(String)).toEqual(['abc']);
    expect(d.pending).toBe(0);
  });
});

describe('FrameDecoder: lengths', () => {
  it('accepts a body of exactly 1 MiB', () => {
    const body = Buffer.alloc(MAX_FRAME);
    for (let i = 0; i < body.length; i += 4096) body[i] = (i >> 12) & 0xff;
    const d = new FrameDecoder();
    const stream = rawFrame(body);
    const got: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 65_521) got.push(...d.push(stream.subarray(at, at + 65_521)));
    expect(got.length).toBe(1);
    expect(got[0]!.length).toBe(MAX_FRAME);
    expect(Buffer.compare(got[0]!, body)).toBe(0);
    expect(d.pending).toBe(0);
  });

  it('assembles a 1 MiB frame sent a byte at a time in linear time', () => {
    // A client trickling bytes must not be able to stall the (single-threaded) agent: with a
    // list of chunks and shift() this took minutes; 64 KiB took ~0.2 s and 256 KiB ~2.7 s.
    const body = Buffer.alloc(MAX_FRAME, 0x5a);
    body[MAX_FRAME - 1] = 0x01;
    const stream = rawFrame(body);
    const d = new FrameDecoder();
    const t0 = performance.now();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      const out = d.push(stream.subarray(i, i + 1));
      if (out.length) got.push(...out);
    }
    const ms = performance.now() - t0;
    expect(got.length).toBe(1);
    expect(Buffer.compare(got[0]!, body)).toBe(0);
    expect(ms).toBeLessThan(8000); // ~0.3 s unloaded
    // the same with two frames back to back, a byte at a time, ending mid-header
    const two = Buffer.concat([rawFrame(Buffer.from('first')), rawFrame(Buffer.from('second')), header(3).subarray(0, 2)]);
    const d2 = new FrameDecoder();
    const bodies: string[] = [];
    for (let i = 0; i < two.length; i++) bodies.push(...d2.push(two.subarray(i, i + 1)).map(String));
    expect(bodies).toEqual(['first', 'second']);
    expect(d2.pending).toBe(2);
  });

  it('throws FRAME_TOO_LARGE for 1 MiB + 1 on the header alone, before any body byte', () => {
    for (const n of [MAX_FRAME + 1, MAX_FRAME * 2, 0x7fffffff, 0xffffffff]) {
      const d = new FrameDecoder();
      let err: unknown;
      try {
        d.push(header(n)); // only the header: nothing of the body was ever sent
      } catch (e) {
        err = e;
      }
      expect(err, String(n)).toBeInstanceOf(FrameError);
      expect((err as SigilError).code).toBe(ErrorCode.FRAME_TOO_LARGE);
      expect(d.pending).toBe(0);
    }
    // the header arriving a byte at a time: the 4th byte is the one that fails
    const d = new FrameDecoder();
    const h = header(MAX_FRAME + 1);
    for (let i = 0; i < 3; i++) expect(d.push(h.subarray(i, i + 1))).toEqual([]);
    expect(() => d.push(h.subarray(3, 4))).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
  });

  it('throws BAD_REQUEST for a zero length', () => {
    const d = new FrameDecoder();
    expect(() => d.push(header(0))).toThrow(expect.objectContaining({ code: ErrorCode.BAD_REQUEST, name: 'SigilError' }));
  });

  it('stays failed after an error: every later push throws the same error', () => {
    for (const bad of [header(0), header(MAX_FRAME + 1)]) {
      const d = new FrameDecoder();
      let first: unknown;
      try {
        d.push(bad);
      } catch (e) {
        first = e;
      }
      expect(first).toBeInstanceOf(SigilError);
      for (const later of [rawFrame(Buffer.from('ok')), Buffer.alloc(0), header(5)]) {
        let again: unknown;
        try {
          d.push(later);
        } catch (e) {
          again = e;
        }
        expect(again).toBe(first);
        expect((again as FrameError).frames).toEqual([]);
      }
    }
  });

  it('hands over the frames completed before a bad length in the same chunk', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { maxLength: 10 }),
        fc.constantFrom(0, MAX_FRAME + 1, 0xffffffff),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (good, badLen, trailing, cuts) => {
          const stream = Buffer.concat([...good.map(rawFrame), header(badLen), trailing]);
          const d = new FrameDecoder();
          const got: Buffer[] = [];
          let err: FrameError | null = null;
          for (const c of chunk(stream, cuts)) {
            try {
              got.push(...d.push(c));
            } catch (e) {
              if (!err) {
                err = e as FrameError;
                got.push(...err.frames);
              }
            }
          }
          expect(err).toBeInstanceOf(FrameError);
          expect(err!.code).toBe(badLen === 0 ? ErrorCode.BAD_REQUEST : ErrorCode.FRAME_TOO_LARGE);
          expect(got.map((b) => b.toString('hex'))).toEqual(good.map((b) => Buffer.from(b).toString('hex')));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds a bad length anywhere in a random stream, and only there', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 30 }), fc.constant(null)), { minLength: 1, maxLength: 15 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
        // null = a zero-length frame at that position
        const stream = Buffer.concat(items.map((b) => (b === null ? header(0) : rawFrame(b))));
        const firstBad = items.indexOf(null);
        const d = new FrameDecoder();
        const got: Buffer[] = [];
        let err: FrameError | null = null;
        for (const c of chunk(stream, cuts)) {
          try {
            got.push(...d.push(c));
          } catch (e) {
            if (!err) got.push(...(e as FrameError).frames);
            err = e as FrameError;
          }
        }
        if (firstBad < 0) {
          expect(err).toBeNull();
          expect(got.length).toBe(items.length);
        } else {
          expect(err?.code).toBe(ErrorCode.BAD_REQUEST);
          expect(got.length).toBe(firstBad);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('encodeFrame', () => {
  it('frames a message of exactly 1 MiB and refuses 1 MiB + 1', () => {
    // bin32 header is 5 bytes: a bin of MAX_FRAME - 5 bytes encodes to exactly MAX_FRAME
    const exact = encodeFrame(new Uint8Array(MAX_FRAME - 5));
    expect(exact.length).toBe(4 + MAX_FRAME);
    expect(exact.readUInt32BE(0)).toBe(MAX_FRAME);
    expect(new FrameDecoder().push(exact)[0]!.length).toBe(MAX_FRAME);
    expect(() => encodeFrame(new Uint8Array(MAX_FRAME - 4))).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    // the same with a request-shaped map holding a long string
    const base = encodeFrame({ v: 1, id: 1, op: 'set_secret', args: { value: '' } }).length - 4;
    // str32 costs 5 bytes of header instead of fixstr's 1
    const fill = MAX_FRAME - base - 4;
    expect(encodeFrame({ v: 1, id: 1, op: 'set_secret', args: { value: 'x'.repeat(fill) } }).readUInt32BE(0)).toBe(MAX_FRAME);
    expect(() => encodeFrame({ v: 1, id: 1, op: 'set_secret', args: { value: 'x'.repeat(fill + 1) } })).toThrow(SigilError);
  });

  it('leaves undecodable bodies to decodeBody, which throws MsgpackError', () => {
    const [body] = new FrameDecoder().push(rawFrame(Buffer.from([0xc1])));
    expect(() => decodeBody(body!)).toThrow(MsgpackError);
  });
});
