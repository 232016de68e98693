/**
 * One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, as getsops/sops aes/cipher.go
 * writes it — AES-256-GCM under the file's 32-byte data key, a 32-byte IV (sops' nonce size,
 * not GCM's usual 12), the 16-byte tag apart from the ciphertext, and the value's path as
 * additional data (`db:password:`; list items share their list's path), so a value cannot
 * be moved to another key unnoticed. The MAC (sops.go) is SHA-512 over every value's bytes
 * in document order, as uppercase hex, sealed the same way with `lastmodified` as its AAD.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';

/** sops' nonce size (aes/cipher.go nonceSize). */
const IV_BYTES = 32;
const TAG_BYTES = 16;
/** The same shape sops' own regular expression accepts (base64 has no commas). */
const ENC = /^ENC\[AES256_GCM,data:([^,\]]+),iv:([^,\]]+),tag:([^,\]]+),type:([a-z0-9]+)\]$/;

/** The types sops tags values with; a plaintext comes back as bytes and its type. */
export type SopsType = 'str' | 'int' | 'int64' | 'float' | 'bool' | 'bytes' | 'comment';
const TYPES: ReadonlySet<string> = new Set(['str', 'int', 'int64', 'float', 'bool', 'bytes', 'comment']);

export interface Plain {
  /** The value as a person reads it (`sops -d`): text for str, `5432` for int, `true` for bool. */
  bytes: Buffer;
  type: SopsType;
}

export function isEncrypted(text: string): boolean {
  return text.startsWith('ENC[AES256_GCM,');
}

/** The additional data of a value at `path` (sops: keys joined by ":", list indices left out). */
export function pathAad(path: ReadonlyArray<string | number>): string {
  return path.filter((p): p is string => typeof p === 'string').join(':') + ':';
}

/**
 * Decrypts one value. `where` names it in errors (never the value). A wrong key, a moved
 * value or a flipped bit all fail the tag: the same message, as nothing tells them apart.
 */
export function decryptValue(text: string, key: Buffer, aad: string, where: string): Plain {
  // sops writes an empty value as "" (nothing to encrypt) and reads it back as "".
  if (text === '') return { bytes: Buffer.alloc(0), type: 'str' };
  const m = ENC.exec(text);
  if (!m || !TYPES.has(m[4]!)) throw bad(`${where} is not a SOPS value (ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])`);
  const [data, iv, tag] = [m[1]!, m[2]!, m[3]!].map((b) => Buffer.from(b, 'base64'));
  if (iv!.length === 0 || tag!.length !== TAG_BYTES) throw bad(`${where} has a malformed iv or tag`);
  let bytes: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv!, { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag!);
    bytes = Buffer.concat([d.update(data!), d.final()]);
  } catch {
    throw bad(`${where} does not decrypt with the file's data key (changed, moved to another key, or not written for this file)`);
  }
  const type = m[4] as SopsType;
  return { bytes: canonical(bytes, type, where), type };
}

/** Encrypts `bytes` as a value of `type` at the path whose AAD is `aad`; a fresh random IV. */
export function encryptValue(bytes: Buffer, type: SopsType, key: Buffer, aad: string): string {
  if (bytes.length === 0 && type === 'str') return '';
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  c.setAAD(Buffer.from(aad, 'utf8'));
  // sops encrypts a bool as "True"/"False" (the Python version's spelling).
  const plain = type === 'bool' ? macBytes(bytes, type) : bytes;
  const data = Buffer.concat([c.update(plain), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${c.getAuthTag().toString('base64')},type:${type}]`;
}

/**
 * Whether `text` is a value of `type` as sops parses it (Go's strconv): a replaced int stays
 * an int only if the new value is one.
 */
export function fitsType(text: string, type: SopsType): boolean {
  switch (type) {
    case 'int':
    case 'int64':
      return INT.test(text);
    case 'float':
      return FLOAT.test(text);
    case 'bool':
      return BOOLS.has(text);
    default:
      return true;
  }
}

/** The bytes one value adds to the MAC (sops.go ToBytes of the parsed value). */
export function macBytes(bytes: Buffer, type: SopsType): Buffer {
  if (type === 'bool') return Buffer.from(bytes.toString() === 'true' ? 'True' : 'False');
  return bytes;
}

/** SHA-512 over the values in order, as sops compares it: uppercase hex. */
export class MacHash {
  private readonly hash: Hash = createHash('sha512');
  constructor(onlyEncrypted: boolean) {
    // sops.go MACOnlyEncryptedInitialization: sha256("sops"), so the two kinds of MAC never match.
    if (onlyEncrypted) this.hash.update(Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex'));
  }
  add(bytes: Buffer): void {
    this.hash.update(bytes);
  }
  hex(): string {
    return this.hash.digest('hex').toUpperCase();
  }
}

/**
 * Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back as `v`, never
 * an exponent. sops hashes (and encrypts) floats so.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const s = String(v);
  const e = s.indexOf('e');
  if (e === -1) return s;
  const sign = s.startsWith('-') ? '-' : '';
  const mantissa = s.slice(sign.length, e);
  const exp = Number(s.slice(e + 1));
  const digits = mantissa.replace('.', '');
  const point = (mantissa.includes('.') ? mantissa.indexOf('.') : mantissa.length) + exp;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const INT = /^[+-]?[0-9]+$/;
const FLOAT = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
/** strconv.ParseBool's spellings. */
const BOOLS: ReadonlyMap<string, boolean> = new Map(
  [...['1', 't', 'T', 'TRUE', 'true', 'True'].map((s) => [s, true] as const), ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((s) => [s, false] as const)],
);

/** A value as sops reads it: an int `007` is 7, a bool `True` is true. Wipes `bytes`' old form. */
export function canonical(bytes: Buffer, type: SopsType, where: string): Buffer {
  if (type === 'str' || type === 'bytes' || type === 'comment') return bytes;
  const text = bytes.toString('utf8');
  bytes.fill(0);
  if (!fitsType(text, type)) throw bad(`${where} is tagged ${type} but does not hold one`);
  if (type === 'bool') return Buffer.from(String(BOOLS.get(text)));
  if (type === 'float') return Buffer.from(goFloat(Number(text)));
  return Buffer.from(BigInt(text.replace(/^\+/, '')).toString());
}

function bad(message: string): SigilError {
  return new SigilError(ErrorCode.INTERNAL, message);
}
