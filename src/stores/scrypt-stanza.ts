/**
 * The age scrypt (passphrase) recipient and identity, over Node's native async
 * `crypto.scrypt`. typage ships its own, but it is pure JS and synchronous: at age's
 * default work factor it blocks the event loop for seconds, and the agent must keep
 * answering other clients while someone unlocks.
 *
 * Wire format (age v1 spec, "scrypt recipient stanza"):
 *   -> scrypt <base64 salt, 16 bytes> <log2 N>
 *   <ChaCha20-Poly1305(key = scrypt(pass, label || salt), nonce = 0, file key)>  (32 bytes)
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { Decrypter, Encrypter, Stanza, type Identity, type Recipient } from 'age-encryption';

const LABEL = 'age-encryption.org/v1/scrypt';
/** age's own default; what `age -p` writes. */
export const DEFAULT_WORK_FACTOR = 18;
/** Highest log2 N we agree to compute when reading: 2^22 costs 4 GiB and seconds (age's limit). */
export const MAX_WORK_FACTOR = 22;

const SALT_BYTES = 16; // fixed by the age spec
const FILE_KEY_BYTES = 16; // fixed by the age spec
const TAG_BYTES = 16; // Poly1305 tag
const KEY_BYTES = 32; // ChaCha20 key
const NONCE = new Uint8Array(12); // all-zero: each derived key wraps exactly one file key
const SCRYPT_R = 8; // fixed by the age spec
const SCRYPT_P = 1; // fixed by the age spec
const MAXMEM_SLACK = 1 << 20; // OpenSSL also counts the p * 128 * r block buffer and a little more

/** Thrown by {@link decryptWithPassphrase} when the file is passphrase-encrypted but not with this one. */
export class IncorrectPassphraseError extends Error {
  constructor() {
    super('incorrect passphrase');
    this.name = 'IncorrectPassphraseError';
  }
}

function deriveKey(passphrase: Uint8Array, salt: Uint8Array, logN: number): Promise<Buffer> {
  const labelAndSalt = Buffer.concat([Buffer.from(LABEL, 'latin1'), salt]);
  const N = 2 ** logN;
  // Node refuses anything above 32 MiB by default; 2^18 needs 256 MiB.
  const maxmem = 128 * SCRYPT_R * N + MAXMEM_SLACK;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, labelAndSalt, KEY_BYTES, { N, r: SCRYPT_R, p: SCRYPT_P, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function base64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** Strict decoding: Buffer.from(…, 'base64') accepts anything, age accepts canonical text only. */
function decodeSalt(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{22}$/.test(text)) return null; // 22 chars = 16 bytes unpadded
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === SALT_BYTES && base64NoPad(bytes) === text ? bytes : null;
}

function checkWorkFactor(logN: number): void {
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_WORK_FACTOR) {
    throw new RangeError(`scrypt work factor must be an integer in 1..${MAX_WORK_FACTOR}, got ${logN}`);
  }
}

/**
 * Wraps file keys with a passphrase. The passphrase Buffer stays the caller's: it is
 * read at each wrap, never copied or zeroed here.
 */
export class ScryptRecipient implements Recipient {
  constructor(
    private readonly passphrase: Uint8Array,
    private readonly logN: number = DEFAULT_WORK_FACTOR,
  ) {
    checkWorkFactor(logN);
  }

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const salt = randomBytes(SALT_BYTES);
    const key = await deriveKey(this.passphrase, salt, this.logN);
    try {
      const cipher = createCipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_BYTES });
      const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
      return [new Stanza(['scrypt', base64NoPad(salt), String(this.logN)], body)];
    } finally {
      key.fill(0);
    }
  }
}

/**
 * Unwraps file keys with a passphrase. Per typage's Identity contract a wrong passphrase
 * is "not mine" (null), so the outcome is recorded in `rejected` for callers that want
 * to say "incorrect passphrase" rather than "no identity matched".
 */
export class ScryptIdentity implements Identity {
  private mismatched = false;

  constructor(
    private readonly passphrase: Uint8Array,
    private readonly maxWorkFactor: number = MAX_WORK_FACTOR,
  ) {}

  /** True once a well-formed scrypt stanza failed to authenticate with this passphrase. */
  get rejected(): boolean {
    return this.mismatched;
  }

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    for (const s of stanzas) {
      if (s.args[0] !== 'scrypt') continue;
      // Mixing a passphrase with public-key recipients would let any recipient swap the
      // content under a passphrase holder's nose; age refuses such files, so do we.
      if (stanzas.length !== 1) throw new Error('an scrypt stanza must be the only one in the header');
      const [, saltText, logNText] = s.args;
      if (s.args.length !== 3 || saltText === undefined || logNText === undefined) {
        throw new Error('invalid scrypt stanza');
      }
      const salt = decodeSalt(saltText);
      if (salt === null || !/^[1-9][0-9]*$/.test(logNText)) throw new Error('invalid scrypt stanza');
      const logN = Number(logNText);
      if (logN > this.maxWorkFactor) {
        throw new Error(
          `scrypt work factor 2^${logN} is above the limit of 2^${this.maxWorkFactor}: refusing to spend that much memory and time`,
        );
      }
      if (s.body.length !== FILE_KEY_BYTES + TAG_BYTES) throw new Error('invalid scrypt stanza');

      const key = await deriveKey(this.passphrase, salt, logN);
      try {
        const decipher = createDecipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_BYTES });
        decipher.setAuthTag(s.body.subarray(FILE_KEY_BYTES));
        const fileKey = decipher.update(s.body.subarray(0, FILE_KEY_BYTES));
        try {
          decipher.final();
        } catch {
          fileKey.fill(0);
          this.mismatched = true;
          return null;
        }
        return fileKey;
      } finally {
        key.fill(0);
      }
    }
    return null;
  }
}

/** The log2 N of an age passphrase file's scrypt stanza (read from its header), or undefined. */
export function workFactorOf(file: Uint8Array): number | undefined {
  const header = Buffer.from(file.subarray(0, 256)).toString('latin1');
  const m = /\n-> scrypt [A-Za-z0-9+/]{22} (\d{1,2})\n/.exec(header);
  return m ? Number(m[1]) : undefined;
}

/** Encrypts `plaintext` as an age passphrase file (binary format). */
export async function encryptWithPassphrase(
  plaintext: Uint8Array,
  passphrase: Uint8Array,
  workFactor: number = DEFAULT_WORK_FACTOR,
): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(new ScryptRecipient(passphrase, workFactor));
  return e.encrypt(plaintext);
}

/**
 * Decrypts an age passphrase file. Throws {@link IncorrectPassphraseError} when the
 * passphrase does not match, and a plain Error (format, work-factor limit, corruption)
 * otherwise.
 */
export async function decryptWithPassphrase(
  file: Uint8Array,
  passphrase: Uint8Array,
  maxWorkFactor: number = MAX_WORK_FACTOR,
): Promise<Uint8Array> {
  const identity = new ScryptIdentity(passphrase, maxWorkFactor);
  const d = new Decrypter();
  d.addIdentity(identity);
  try {
    return await d.decrypt(file);
  } catch (err) {
    if (identity.rejected) throw new IncorrectPassphraseError();
    throw err;
  }
}
