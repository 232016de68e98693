/**
 * A small MessagePack codec for the protocol's maps. Written here rather than imported
 * because `sigil-token` must start in little more than bare `node` time: msgpackr's
 * smallest entry points add ~10 ms of start-up, this adds well under 1 ms. It covers the
 * whole format except ext types (the protocol never sends them; they are rejected).
 *
 * Decoding is defensive: every read is bounds-checked, nesting is capped and map keys must
 * be strings, so a hostile frame yields a MsgpackError, never a crash or a huge allocation
 * (lengths are checked against the bytes actually present before anything is allocated).
 */

export class MsgpackError extends Error {
  override name = 'MsgpackError';
}

/** Deeper than any real message; keeps recursion far from the stack limit. */
const MAX_DEPTH = 64;

/**
 * Objects whose encoding is kept once made (null until then). Frozen by keepEncoding, so the
 * bytes can never disagree with the object; dropped with it.
 */
const kept = new WeakMap<object, Buffer | null>();

/**
 * Marks `value` as sent again and again (the agent's memoized token answer): it is frozen, and
 * its first encoding is kept and copied into every later message that holds it.
 */
export function keepEncoding<T extends object>(value: T): Readonly<T> {
  kept.set(Object.freeze(value), null);
  return value;
}

/** Wipes and forgets the encoding keepEncoding kept for `value` (its bytes may be a secret's). */
export function dropEncoding(value: object): void {
  kept.get(value)?.fill(0);
  kept.delete(value);
}

export function encode(value: unknown): Buffer {
  return encodeAfter(0, value);
}

/**
 * Encodes `value` after `reserve` bytes left for the caller (a frame header), so framing
 * needs no second buffer and copy.
 */
export function encodeAfter(reserve: number, value: unknown): Buffer {
  const w = new Writer();
  w.pos = reserve;
  w.value(value, 0);
  return w.finish();
}

export function decode(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const v = r.value(0);
  if (r.pos !== bytes.length) throw new MsgpackError(`${bytes.length - r.pos} trailing bytes`);
  return v;
}

/*
 * Integers and short ASCII strings are written and read byte by byte, not through Buffer's
 * writeUInt32BE/write/toString: each of those is compiled on its first call (20–90 µs
 * apiece), which sigil-token — one request, one answer, then exit — pays in full.
 */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  pos = 0;

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A type byte and an unsigned big-endian length or value of `width` bytes. */
  private head(tag: number, n: number, width: 1 | 2 | 4): void {
    this.ensure(1 + width);
    this.buf[this.pos++] = tag;
    for (let shift = (width - 1) * 8; shift >= 0; shift -= 8) this.buf[this.pos++] = (n >>> shift) & 0xff;
  }

  value(v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new MsgpackError('value nested too deeply');
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'number':
        return this.num(v);
      case 'boolean':
        return this.u8(v ? 0xc3 : 0xc2);
      case 'undefined':
        return this.u8(0xc0);
      case 'bigint':
        return this.num(Number(v));
      case 'object':
        if (v === null) return this.u8(0xc0);
        // isView checks the internal slot: an object that merely inherits from Uint8Array is a map.
        if (ArrayBuffer.isView(v) && v instanceof Uint8Array) return this.bin(v);
        if (Array.isArray(v)) {
          this.len(v.length, 0x90, 0xdc);
          for (const item of v) this.value(item, depth + 1);
          return;
        }
        if (v instanceof Date) return this.str(v.toISOString());
        return this.map(v as Record<string, unknown>, depth);
      default:
        throw new MsgpackError(`cannot encode a ${typeof v}`);
    }
  }

  private map(obj: Record<string, unknown>, depth: number): void {
    const bytes = kept.get(obj);
    if (bytes === undefined) return this.members(obj, depth);
    if (bytes !== null) {
      this.ensure(bytes.length);
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    const start = this.pos;
    this.members(obj, depth);
    kept.set(obj, Buffer.from(this.buf.subarray(start, this.pos)));
  }

  private members(obj: Record<string, unknown>, depth: number): void {
    // Undefined members are left out, as JSON.stringify does.
    const keys = Object.keys(obj);
    let n = 0;
    for (const k of keys) if (obj[k] !== undefined) n++;
    this.len(n, 0x80, 0xde);
    for (const k of keys) {
      if (obj[k] === undefined) continue;
      this.str(k);
      this.value(obj[k], depth + 1);
    }
  }

  private len(n: number, fix: number, tag16: number): void {
    if (n < 16) this.u8(fix | n);
    else if (n < 0x10000) this.head(tag16, n, 2);
    else this.head(tag16 + 1, n, 4);
  }

  private str(s: string): void {
    if (s.length < 32 && this.ascii(s)) return;
    const n = Buffer.byteLength(s);
    if (n < 32) {
      this.ensure(1 + n);
      this.buf[this.pos++] = 0xa0 | n;
    } else if (n < 0x100) this.head(0xd9, n, 1);
    else if (n < 0x10000) this.head(0xda, n, 2);
    else this.head(0xdb, n, 4);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A short all-ASCII string as a fixstr; false (nothing written) for any other. */
  private ascii(s: string): boolean {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
    this.ensure(1 + s.length);
    this.buf[this.pos++] = 0xa0 | s.length;
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
    return true;
  }

  private bin(b: Uint8Array): void {
    if (b.length < 0x100) this.head(0xc4, b.length, 1);
    else if (b.length < 0x10000) this.head(0xc5, b.length, 2);
    else this.head(0xc6, b.length, 4);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private num(n: number): void {
    // -0 is a safe integer to JavaScript, but as an integer it would come back as 0.
    if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
      if (n >= 0) {
        if (n < 0x80) return this.u8(n);
        if (n < 0x100) return this.head(0xcc, n, 1);
        if (n < 0x10000) return this.head(0xcd, n, 2);
        if (n < 0x100000000) return this.head(0xce, n, 4);
        this.ensure(9);
        this.buf[this.pos++] = 0xcf;
        this.buf.writeBigUInt64BE(BigInt(n), this.pos);
        this.pos += 8;
        return;
      }
      if (n >= -32) return this.u8(n & 0xff);
      this.ensure(9);
      if (n >= -0x80) {
        this.buf[this.pos++] = 0xd0;
        this.buf.writeInt8(n, this.pos);
        this.pos += 1;
      } else if (n >= -0x8000) {
        this.buf[this.pos++] = 0xd1;
        this.buf.writeInt16BE(n, this.pos);
        this.pos += 2;
      } else if (n >= -0x80000000) {
        this.buf[this.pos++] = 0xd2;
        this.buf.writeInt32BE(n, this.pos);
        this.pos += 4;
      } else {
        this.buf[this.pos++] = 0xd3;
        this.buf.writeBigInt64BE(BigInt(n), this.pos);
        this.pos += 8;
      }
      return;
    }
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.buf.writeDoubleBE(n, this.pos);
    this.pos += 8;
  }
}

/** Strings this short are read through a reused array of char codes, and cached as map keys. */
const SHORT = 16;
const SCRATCH = Array.from({ length: SHORT + 1 }, (_, n) => new Array<number>(n).fill(0));
const KEY_SLOTS = 256;
const KEY_BYTES: (Uint8Array | undefined)[] = new Array(KEY_SLOTS).fill(undefined);
const KEY_STRINGS: (string | undefined)[] = new Array(KEY_SLOTS).fill(undefined);

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) throw new MsgpackError('truncated message');
    this.pos += n;
    return at;
  }

  private uint(width: 1 | 2 | 4): number {
    const at = this.need(width);
    return width === 1
      ? this.view.getUint8(at)
      : width === 2
        ? this.view.getUint16(at)
        : this.view.getUint32(at);
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new MsgpackError('message nested too deeply');
    const tag = this.bytes[this.need(1)]!;
    if (tag < 0x80) return tag;
    if (tag >= 0xe0) return tag - 0x100;
    if (tag <= 0x8f) return this.map(tag & 0x0f, depth);
    if (tag <= 0x9f) return this.array(tag & 0x0f, depth);
    if (tag <= 0xbf) return this.str(tag & 0x1f);
    switch (tag) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.uint(1));
      case 0xc5:
        return this.bin(this.uint(2));
      case 0xc6:
        return this.bin(this.uint(4));
      case 0xca:
        return this.view.getFloat32(this.need(4));
      case 0xcb:
        return this.view.getFloat64(this.need(8));
      case 0xcc:
        return this.uint(1);
      case 0xcd:
        return this.uint(2);
      case 0xce:
        return this.uint(4);
      case 0xcf:
        return this.big(this.view.getBigUint64(this.need(8)));
      case 0xd0:
        return this.view.getInt8(this.need(1));
      case 0xd1:
        return this.view.getInt16(this.need(2));
      case 0xd2:
        return this.view.getInt32(this.need(4));
      case 0xd3:
        return this.big(this.view.getBigInt64(this.need(8)));
      case 0xd9:
        return this.str(this.uint(1));
      case 0xda:
        return this.str(this.uint(2));
      case 0xdb:
        return this.str(this.uint(4));
      case 0xdc:
        return this.array(this.uint(2), depth);
      case 0xdd:
        return this.array(this.uint(4), depth);
      case 0xde:
        return this.map(this.uint(2), depth);
      case 0xdf:
        return this.map(this.uint(4), depth);
      default:
        // 0xc1 is never used; 0xc7-0xc9 and 0xd4-0xd8 are ext types.
        throw new MsgpackError(`unsupported type byte 0x${tag.toString(16)}`);
    }
  }

  private big(n: bigint): number {
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new MsgpackError('integer out of range');
    }
    return Number(n);
  }

  private str(n: number): string {
    const at = this.need(n);
    const b = this.bytes;
    // ASCII up to a few KiB (keys, codes, tokens): the bytes are the char codes.
    if (n <= SHORT) {
      const scratch = SCRATCH[n]!;
      for (let i = 0; i < n; i++) {
        const c = b[at + i]!;
        if (c > 0x7f) return Buffer.from(b.buffer, b.byteOffset + at, n).toString('utf8');
        scratch[i] = c;
      }
      // A plain array of small integers: apply() reads it without the typed-array slow path.
      return String.fromCharCode.apply(null, scratch);
    }
    if (n <= 4096) {
      let ascii = true;
      for (let i = at; i < at + n; i++) if (b[i]! > 0x7f) ascii = false;
      if (ascii) return String.fromCharCode.apply(null, b.subarray(at, at + n) as unknown as number[]);
    }
    return Buffer.from(b.buffer, b.byteOffset + at, n).toString('utf8');
  }

  /**
   * A map key: protocol field names, the same few in every message, so each is made once and
   * then found by its bytes (keys are never secrets; values are not kept).
   */
  private key(depth: number): string {
    const tag = this.bytes[this.pos];
    const n = tag === undefined ? -1 : tag - 0xa0;
    if (n < 0 || n > SHORT) {
      const key = this.value(depth);
      if (typeof key !== 'string') throw new MsgpackError('map key is not a string');
      return key;
    }
    this.pos++;
    const at = this.need(n);
    const b = this.bytes;
    let h = n;
    for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + b[at + i]!) | 0;
    const slot = (h ^ (h >>> 11)) & (KEY_SLOTS - 1);
    const known = KEY_BYTES[slot];
    if (known !== undefined && known.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (known[i] !== b[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return KEY_STRINGS[slot]!;
    }
    this.pos = at;
    const key = this.str(n);
    KEY_BYTES[slot] = Uint8Array.from(b.subarray(at, at + n));
    KEY_STRINGS[slot] = key;
    return key;
  }

  private bin(n: number): Buffer {
    const at = this.need(n);
    // A copy, so the caller may keep it after the frame buffer is reused or wiped.
    return Buffer.from(this.bytes.subarray(at, at + n));
  }

  private array(n: number, depth: number): unknown[] {
    // Every element takes at least one byte: a length beyond what is left is a lie.
    if (n > this.bytes.length - this.pos) throw new MsgpackError('truncated message');
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private map(n: number, depth: number): Record<string, unknown> {
    if (n * 2 > this.bytes.length - this.pos) throw new MsgpackError('truncated message');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.key(depth + 1);
      const val = this.value(depth + 1);
      // A "__proto__" key must be data, not a prototype change.
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value: val, enumerable: true, writable: true, configurable: true });
      } else out[key] = val;
    }
    return out;
  }
}
