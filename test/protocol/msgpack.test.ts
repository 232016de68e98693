import fc from 'fast-check';
import { decode as refDecode, encode as refEncode, type EncoderOptions } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decode, dropEncoding, encode, keepEncoding, MsgpackError } from '../../src/protocol/msgpack.js';

/*
 * Our MessagePack codec: round trips over the protocol's value space, differential tests
 * against @msgpack/msgpack (the reference JavaScript implementation) in both directions, and hostile input (which must only ever produce a
 * MsgpackError: never another exception, a hang or a huge allocation).
 */

// ---------------------------------------------------------------------------------------
// helpers

/**
 * A comparable form of a protocol value: maps become ordered entry lists (so prototypes and
 * own-vs-inherited questions are out of the way), bytes become hex, undefined map members
 * are dropped (we omit them, as JSON does) and undefined array items become null.
 */
function norm(v: unknown): unknown {
  // As the encoder tells them apart: a map whose prototype is a Uint8Array (fast-check makes
  // one by assigning a "__proto__" key) is still a map, and has no bytes to read.
  if (ArrayBuffer.isView(v) && v instanceof Uint8Array) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : norm(x)));
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return { $map: Object.keys(o).filter((k) => o[k] !== undefined).map((k) => [k, norm(o[k])]) };
  }
  if (v === undefined) return null;
  if (typeof v === 'number' && Object.is(v, -0)) return { $negzero: true };
  return v;
}

/** Every map we decode is an ordinary object whose prototype nobody changed. */
function assertPlainMaps(v: unknown): void {
  if (Array.isArray(v)) return v.forEach(assertPlainMaps);
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    for (const k of Object.keys(v)) assertPlainMaps((v as Record<string, unknown>)[k]);
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: MsgpackError };

/** Decodes, turning a MsgpackError into a value and letting any other exception fail the test. */
function tryDecode(bytes: Uint8Array): Outcome {
  try {
    return { ok: true, value: decode(bytes) };
  } catch (err) {
    if (err instanceof MsgpackError) return { ok: false, error: err };
    throw new Error(`decode threw ${(err as Error)?.name}: ${(err as Error)?.message} (not a MsgpackError) for ${Buffer.from(bytes).subarray(0, 32).toString('hex')}`);
  }
}

function expectMsgpackError(bytes: Uint8Array, message?: RegExp): MsgpackError {
  const out = tryDecode(bytes);
  expect(out.ok, `decoded ${Buffer.from(bytes).subarray(0, 24).toString('hex')} instead of failing`).toBe(false);
  const { error } = out as { ok: false; error: MsgpackError };
  if (message) expect(error.message).toMatch(message);
  return error;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

// ---------------------------------------------------------------------------------------
// arbitraries: the values the protocol carries

const INT_BOUNDARIES = [
  0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER,
  -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, -(2 ** 31) + 1, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 48),
  Number.MIN_SAFE_INTEGER,
];
/** Every boundary and its neighbours, kept inside the safe range. */
const INT_EDGES = [...new Set(INT_BOUNDARIES.flatMap((b) => [b - 1, b, b + 1]))].filter((n) => Number.isSafeInteger(n));

const arbInt = fc.oneof(fc.constantFrom(...INT_EDGES), fc.integer(), fc.maxSafeInteger());
const arbFloat = fc.oneof(fc.double(), fc.constantFrom(-0, 0.5, -1.5, 1e300, -1e-300, 2 ** 53, 2 ** 64, -(2 ** 63), Number.EPSILON, Infinity, -Infinity, NaN));
const arbText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
);
const arbKey = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('v', 'id', 'op', 'args', '', '0', '17', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '__proto__x') },
);
const arbBytes = fc.uint8Array({ maxLength: 64 });
const arbScalar = fc.oneof(arbInt, arbFloat, arbText, fc.boolean(), fc.constant(null), arbBytes);

/** Maps are made with ordinary prototypes, as our decoder and the protocol's callers build them. */
function mapOf<T>(entries: Array<[string, T]>): Record<string, T> {
  const o: Record<string, T> = {};
  for (const [k, v] of entries) o[k] = v;
  return o;
}

const { value: arbValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, arbScalar, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.array(fc.tuple(arbKey, tie('value')), { maxLength: 6 }).map(mapOf),
}));

/** A request-shaped map, the protocol's main citizen. */
const arbRequest = fc.record({
  v: fc.constant(1),
  id: fc.maxSafeNat(),
  op: fc.string({ maxLength: 20 }),
  args: fc.array(fc.tuple(arbKey, arbValue), { maxLength: 5 }).map(mapOf),
});

const arbProtocolValue = fc.oneof(arbValue, arbRequest);

// ---------------------------------------------------------------------------------------

describe('msgpack round trip', () => {
  it('decode(encode(v)) gives v back for every protocol value', () => {
    fc.assert(
      fc.property(arbProtocolValue, (v) => {
        const back = decode(encode(v));
        expect(norm(back)).toEqual(norm(v));
        assertPlainMaps(back);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips safe integers at every width boundary, in the smallest encoding', () => {
    const size = (n: number): number =>
      n >= 0
        ? n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 2 ** 32 ? 5 : 9
        : n >= -32 ? 1 : n >= -0x80 ? 2 : n >= -0x8000 ? 3 : n >= -(2 ** 31) ? 5 : 9;
    for (const n of INT_EDGES) {
      const e = encode(n);
      expect(e.length, `encoded size of ${n}`).toBe(size(n));
      expect(decode(e), `round trip of ${n}`).toBe(n);
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        const e = encode(n);
        expect(e.length).toBe(size(n));
        expect(decode(e)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps floats exact, including -0, NaN and the infinities', () => {
    fc.assert(
      fc.property(arbFloat, (x) => {
        expect(Object.is(decode(encode(x)), x)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(Object.is(decode(encode(-0)), -0)).toBe(true);
    expect(Object.is((decode(encode({ t: -0 })) as { t: number }).t, -0)).toBe(true);
  });

  it('decodes float32 and 64-bit integers written by other encoders', () => {
    const f32 = Buffer.alloc(5);
    f32[0] = 0xca;
    f32.writeFloatBE(1.1, 1);
    expect(decode(f32)).toBe(Math.fround(1.1));
    expect(decode(hex('cf 001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(hex('d3 ffe0000000000001'))).toBe(Number.MIN_SAFE_INTEGER);
    expect(decode(hex('cf 0000000000000005'))).toBe(5); // not minimal, still fine
    expect(decode(hex('d3 ffffffffffffffff'))).toBe(-1);
    // Beyond 2^53 a number would silently lose digits: refused.
    expectMsgpackError(hex('cf 0020000000000000'), /range/);
    expectMsgpackError(hex('cf ffffffffffffffff'), /range/);
    expectMsgpackError(hex('d3 ffe0000000000000'), /range/);
    expectMsgpackError(hex('d3 8000000000000000'), /range/);
  });

  it('picks str/fixstr/str8/16/32 by UTF-8 byte length across the 31/255/65535 boundaries', () => {
    const tagFor = (n: number): number => (n < 32 ? 0xa0 | n : n < 0x100 ? 0xd9 : n < 0x10000 ? 0xda : 0xdb);
    /** A string of exactly `target` UTF-8 bytes built from the given characters, padded with ASCII. */
    const ofBytes = (target: number, chars: string[]): string => {
      let s = '';
      let n = 0;
      for (let i = 0; chars.length > 0; i = (i + 1) % chars.length) {
        const c = chars[i]!;
        const b = Buffer.byteLength(c);
        if (n + b > target) break;
        s += c;
        n += b;
      }
      return s + 'a'.repeat(target - n);
    };
    const targets = [0, 1, 30, 31, 32, 33, 254, 255, 256, 257, 65534, 65535, 65536, 65537, 200_000];
    fc.assert(
      fc.property(
        fc.constantFrom(...targets),
        fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), { maxLength: 8 }),
        (target, chars) => {
          const s = ofBytes(target, chars);
          expect(Buffer.byteLength(s)).toBe(target);
          const e = encode(s);
          expect(e[0]).toBe(tagFor(target));
          const headerLen = target < 32 ? 1 : target < 0x100 ? 2 : target < 0x10000 ? 3 : 5;
          expect(e.length).toBe(headerLen + target);
          expect(decode(e) === s).toBe(true);
          expect(decode(encode({ s })) as unknown).toEqual({ s });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('round-trips bytes, arrays and maps at the 8/16/32-bit length boundaries', () => {
    for (const n of [0, 255, 256, 65535, 65536, 70_000]) {
      const b = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      const e = encode(b);
      expect(e[0]).toBe(n < 0x100 ? 0xc4 : n < 0x10000 ? 0xc5 : 0xc6);
      expect(Buffer.compare(decode(e) as Buffer, Buffer.from(b))).toBe(0);
    }
    for (const n of [0, 15, 16, 65535, 65536]) {
      const arr = Array.from({ length: n }, (_, i) => i % 200);
      const ea = encode(arr);
      expect(ea[0]).toBe(n < 16 ? 0x90 | n : n < 0x10000 ? 0xdc : 0xdd);
      expect(decode(ea)).toEqual(arr);
      const map = mapOf(arr.map((x, i) => [`k${i}`, x]));
      const em = encode(map);
      expect(em[0]).toBe(n < 16 ? 0x80 | n : n < 0x10000 ? 0xde : 0xdf);
      expect(decode(em)).toEqual(map);
    }
  });

  it('encodes an object that merely inherits from Uint8Array as a map (regression: fast-check seed 98100627)', () => {
    const o: Record<string, unknown> = {};
    o['__proto__'] = new Uint8Array([1, 2]); // assignment sets the prototype, no own key
    o.k = 1;
    expect(decode(encode({ '': [o] }))).toEqual({ '': [{ k: 1 }] });
    expect(refDecode(encode(o))).toEqual({ k: 1 });
  });

  it('leaves undefined map members out and writes undefined array items as nil', () => {
    expect(decode(encode({ a: 1, b: undefined, c: null }))).toEqual({ a: 1, c: null });
    expect(Object.keys(decode(encode({ a: 1, b: undefined })) as object)).toEqual(['a']);
    expect(decode(encode([1, undefined, 2]))).toEqual([1, null, 2]);
  });

  it('decodes a value that sits inside a larger buffer (byteOffset) without reading outside it', () => {
    fc.assert(
      fc.property(arbProtocolValue, fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), (v, before, after) => {
        const e = encode(v);
        const big = Buffer.concat([before, e, after]);
        const view = big.subarray(before.length, before.length + e.length);
        expect(norm(decode(view))).toEqual(norm(v));
        // Truncated views must fail even though the next bytes exist in the ArrayBuffer.
        for (const cut of [0, e.length >> 1, e.length - 1]) expectMsgpackError(view.subarray(0, cut));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to encode what it cannot represent', () => {
    expect(() => encode(() => 1)).toThrow(MsgpackError);
    expect(() => encode({ f: Symbol('x') })).toThrow(MsgpackError);
    let deep: unknown = null;
    for (let i = 0; i < 65; i++) deep = [deep];
    expect(() => encode(deep)).toThrow(MsgpackError);
  });
});

describe('msgpack against @msgpack/msgpack (the reference implementation)', () => {
  const unpack = (bytes: Uint8Array) => refDecode(bytes);

  it('our encoding decodes to the same value with the reference decoder', () => {
    fc.assert(
      fc.property(arbProtocolValue, (v) => {
        expect(norm(unpack(encode(v)))).toEqual(norm(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('our encoding of integers at every boundary and long strings reads the same in the reference', () => {
    for (const n of INT_EDGES) expect(unpack(encode(n))).toBe(n);
    for (const n of [31, 32, 255, 256, 65535, 65536]) {
      const s = 'é'.repeat(n >> 1) + 'x'.repeat(n & 1);
      expect(unpack(encode(s)) === s).toBe(true);
    }
  });

  const packers: Array<[string, EncoderOptions, boolean]> = [
    ['defaults', {}, true],
    ['undefined members left out', { ignoreUndefined: true }, true],
    ['float32 always', { forceFloat32: true }, false],
    ['integers as floats', { forceIntegerToFloat: true }, false],
  ];
  for (const [name, options, exact] of packers) {
    it(`decodes the reference encoder's output (${name}) as the reference does`, () => {
      fc.assert(
        fc.property(arbProtocolValue, (v) => {
          const bytes = refEncode(v, options);
          const ours = decode(bytes);
          assertPlainMaps(ours);
          expect(norm(ours)).toEqual(norm(unpack(bytes)));
          // The reference writes -0 as the integer 0: the one value it does not keep.
          if (exact) expect(JSON.stringify(norm(ours))).toBe(JSON.stringify(norm(v)).replaceAll('{"$negzero":true}', '0'));
        }),
        { numRuns: 500 },
      );
    });
  }

  it('decodes reference integers at every boundary', () => {
    for (const n of INT_EDGES) expect(decode(refEncode(n)), String(n)).toBe(n);
  });

  it('rejects what the reference writes as ext types (Date timestamps) with a MsgpackError', () => {
    expectMsgpackError(refEncode(new Date(0)), /type byte 0xd6/);
    expectMsgpackError(refEncode([new Date(0)]));
    expectMsgpackError(refEncode(new Date(1_700_000_000_123)));
  });
});

describe('msgpack on hostile input', () => {
  it('throws MsgpackError on truncation at every byte of valid encodings', () => {
    fc.assert(
      fc.property(arbProtocolValue, (v) => {
        const e = encode(v);
        for (let i = 0; i < e.length; i++) expectMsgpackError(e.subarray(0, i));
      }),
      { numRuns: 150 },
    );
    expectMsgpackError(new Uint8Array(0), /truncated/);
  });

  it('throws MsgpackError on trailing bytes after a whole value', () => {
    fc.assert(
      fc.property(arbProtocolValue, fc.uint8Array({ minLength: 1, maxLength: 32 }), (v, tail) => {
        expectMsgpackError(Buffer.concat([encode(v), tail]), /trailing/);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but MsgpackError on random or mutated bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        tryDecode(bytes);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(arbProtocolValue, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (v, edits) => {
        const e = Buffer.from(encode(v));
        for (const [at, byte] of edits) e[at % e.length] = byte;
        const out = tryDecode(e);
        if (out.ok) assertPlainMaps(out.value);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects bogus lengths fast and without allocating for them', () => {
    const cases: Array<[string, Buffer]> = [
      ['str8 claiming 255', hex('d9 ff 61 62')],
      ['str16 claiming 65535', Buffer.concat([hex('da ffff'), Buffer.alloc(10, 0x61)])],
      ['str32 claiming 4 GB', Buffer.concat([hex('db ffffffff'), Buffer.alloc(10, 0x61)])],
      ['str32 claiming one byte more than present', Buffer.concat([hex('db'), u32(101), Buffer.alloc(100, 0x61)])],
      ['bin8 claiming 255', hex('c4 ff 00')],
      ['bin16 claiming 65535', hex('c5 ffff 00')],
      ['bin32 claiming 4 GB', hex('c6 ffffffff 00 01 02')],
      ['array16 claiming 65535', hex('dc ffff 01 02')],
      ['array32 claiming 4 G items', hex('dd ffffffff 01 02 03')],
      ['map16 claiming 65535', hex('de ffff a1 61 01')],
      ['map32 claiming 4 G entries', hex('df ffffffff a1 61 01')],
      ['fixarray claiming 15', hex('9f 01 02')],
      ['fixmap claiming 15', hex('8f a1 61 01')],
      ['map in an array claiming 4 G', hex('91 df ffffffff')],
      ['nested str32 lie', Buffer.concat([hex('82 a1 61 01 a1 62 db'), u32(0xfffffff0)])],
    ];
    const mem0 = process.memoryUsage();
    const t0 = performance.now();
    for (let round = 0; round < 200; round++) {
      for (const [name, bytes] of cases) {
        const before = process.memoryUsage().arrayBuffers;
        const err = expectMsgpackError(bytes, /truncated/);
        expect(err.name, name).toBe('MsgpackError');
        // An allocation sized by the claimed length would show here at once.
        expect(process.memoryUsage().arrayBuffers - before, name).toBeLessThan(1 << 20);
      }
    }
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(5000); // 3000 decodes; each is microseconds when nothing is allocated
    expect(process.memoryUsage().rss - mem0.rss).toBeLessThan(256 << 20);
  });

  it('caps nesting: 64 levels decode, 65 and 100 000 levels throw MsgpackError (not a stack overflow)', () => {
    const nested = (levels: number, open: Buffer): Buffer => Buffer.concat([...Array<Buffer>(levels).fill(open), hex('c0')]);
    const arr = hex('91');
    const map = hex('81 a1 61');
    expect(tryDecode(nested(64, arr)).ok).toBe(true);
    expect(tryDecode(nested(64, map)).ok).toBe(true);
    expectMsgpackError(nested(65, arr), /nested/);
    expectMsgpackError(nested(65, map), /nested/);
    expectMsgpackError(nested(100_000, arr), /nested/);
    expectMsgpackError(nested(100_000, map), /nested/);
    expectMsgpackError(Buffer.concat([...Array<Buffer>(50_000).fill(hex('91 81 a1 61'))]), /nested|truncated/);
    // what we can encode we can decode, and the other way round
    let deep: unknown = null;
    for (let i = 0; i < 64; i++) deep = [deep];
    expect(decode(encode(deep))).toEqual(deep);
  });

  it('caps nesting through map keys too: maps as keys, 100 000 deep, throw MsgpackError', () => {
    // A key that is itself a map (whose key is a map, …) must count towards the depth.
    expectMsgpackError(Buffer.concat([...Array<Buffer>(100_000).fill(hex('81')), hex('a1 61 01')]), /nested|key/);
  });

  it('tells apart map keys that share a cache slot or differ in one byte', () => {
    // The decoder keeps short keys it has seen; thousands of distinct ones must each come back as sent.
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i.toString(36)}`);
    for (const k of keys) expect(Object.keys(decode(encode({ [k]: 1 })) as object)).toEqual([k]);
    expect(decode(encode({ ab: 1, ac: 2, ba: 3, 'é': 4, '': 5 }))).toEqual({ ab: 1, ac: 2, ba: 3, 'é': 4, '': 5 });
  });

  it('rejects non-string map keys', () => {
    for (const key of ['01', 'ff', 'c0', 'c2', 'c3', 'cb 3ff8000000000000', 'c4 01 61', '90', '91 a1 61', '80', '81 a1 61 01', 'cc 80', 'd0 80']) {
      expectMsgpackError(hex(`81 ${key} 01`), /key/);
      expectMsgpackError(hex(`de 0001 ${key} 01`), /key/);
      expectMsgpackError(hex(`df 00000001 ${key} 01`), /key/);
      expectMsgpackError(hex(`82 a1 61 01 ${key} 01`), /key/);
    }
  });

  it('rejects ext types and the never-used byte 0xc1', () => {
    const exts = [
      'd4 01 00',
      'd5 01 0000',
      'd6 ff 00000000',
      'd7 ff 0000000000000000',
      'd8 01 00000000000000000000000000000000',
      'c7 03 01 000000',
      'c8 0003 01 000000',
      'c9 00000003 01 000000',
      'c7 ff 01',
      'c9 ffffffff 01',
      'c1',
    ];
    for (const e of exts) {
      expectMsgpackError(hex(e), /unsupported type byte/);
      expectMsgpackError(hex(`81 a1 61 ${e}`), /unsupported type byte/);
      expectMsgpackError(hex(`92 01 ${e}`), /unsupported type byte/);
    }
  });

  it('keeps a "__proto__" key as plain data', () => {
    // {"__proto__": {"polluted": true}, "b": 1}
    const bytes = Buffer.concat([hex('82 a9'), Buffer.from('__proto__'), hex('81 a8'), Buffer.from('polluted'), hex('c3 a1 62 01')]);
    const out = decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(Object.keys(out)).toEqual(['__proto__', 'b']);
    expect(out.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: true });
    // and back out again: still a key, still data
    const again = decode(encode(out)) as Record<string, unknown>;
    expect(Object.hasOwn(again, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(again)).toBe(Object.prototype);
    // a repeated key, and one inside args, the shape an attacker would send
    const twice = Buffer.concat([hex('82 a9'), Buffer.from('__proto__'), hex('01 a9'), Buffer.from('__proto__'), hex('02')]);
    const t = decode(twice) as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(t, '__proto__')?.value).toBe(2);
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    // what anyone writes from JSON.parse('{"__proto__":…}') is data to us too
    const fromJson = JSON.parse('{"v":1,"args":{"__proto__":{"isAdmin":true}}}') as unknown;
    const req = decode(refEncode(fromJson)) as { args: Record<string, unknown> };
    expect(Object.hasOwn(req.args, '__proto__')).toBe(true);
    expect(req.args.isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(req.args)).toBe(Object.prototype);
  });
});

describe('kept encodings (the agent\'s memoized answers)', () => {
  it('encode a kept object exactly as an unkept one, wherever it sits in a message', () => {
    const answer = { access_token: 'tok-é-123', token_type: 'Bearer', expires_at: null };
    const plain = { ...answer };
    keepEncoding(answer);
    for (const id of [1, 200, 70_000, 2 ** 40]) {
      // First use makes the bytes, later ones copy them: both must be the plain encoding.
      for (let i = 0; i < 2; i++) {
        const msg = { id, ok: true, result: answer };
        expect(encode(msg)).toEqual(encode({ id, ok: true, result: plain }));
        expect(decode(encode(msg))).toEqual({ id, ok: true, result: plain });
      }
    }
    expect(encode([answer, 'x', answer])).toEqual(encode([plain, 'x', plain]));
  });

  it('freezes the object, so the kept bytes cannot go stale', () => {
    const answer = keepEncoding({ access_token: 'a', expires_at: 1 });
    encode(answer);
    expect(() => {
      (answer as { access_token: string }).access_token = 'b';
    }).toThrow(TypeError);
    expect(decode(encode(answer))).toEqual({ access_token: 'a', expires_at: 1 });
  });

  it('after dropEncoding, encodes the object afresh', () => {
    const answer = keepEncoding({ access_token: 'drop-me', token_type: 'Bearer' });
    const first = Buffer.from(encode({ result: answer }));
    dropEncoding(answer);
    expect(Buffer.from(encode({ result: answer }))).toEqual(first);
    dropEncoding({}); // never kept: nothing to do
  });
});
