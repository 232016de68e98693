import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Encrypter, type Recipient } from 'age-encryption';

/**
 * age encryption to X25519 recipients with the payload sealed by Node's native
 * ChaCha20-Poly1305. typage (age-encryption) seals the payload in pure JavaScript: for a
 * 10,000-secret vault (~1.3 MiB) that was ~14 ms of every write, now ~1 ms.
 *
 * The header is still typage's (recipient stanzas, HMAC): it encrypts an empty payload while
 * a no-stanza Recipient notes the file key it is handed (the documented Recipient contract).
 * An age file is header ‖ 16-byte nonce ‖ STREAM payload, and an empty payload is exactly
 * one 16-byte tag (age-encryption.org/v1, "Payload"): the header is all but the last 32
 * bytes. The payload is then the spec's STREAM under HKDF-SHA-256(file key, nonce,
 * "payload"): 64 KiB chunks, nonce = 11-byte big-endian counter ‖ last-chunk flag.
 * Debian's `age` and typage's Decrypter read the result (tests).
 */

const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;

export async function sealToRecipients(plaintext: Uint8Array, recipients: string[]): Promise<Buffer> {
  let fileKey: Uint8Array | null = null;
  const capture: Recipient = {
    wrapFileKey(key) {
      fileKey = Uint8Array.from(key);
      return [];
    },
  };
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  e.addRecipient(capture);
  const empty = await e.encrypt(new Uint8Array(0));
  const key = fileKey as Uint8Array | null;
  if (!key || empty.length < NONCE + TAG) throw new Error('age header: no file key');
  const header = empty.subarray(0, empty.length - NONCE - TAG);
  const nonce = randomBytes(NONCE);
  const streamKey = Buffer.from(hkdfSync('sha256', key, nonce, 'payload', 32));
  key.fill(0);
  try {
    return Buffer.concat([header, nonce, ...sealStream(streamKey, plaintext)]);
  } finally {
    streamKey.fill(0);
  }
}

/** The payload: every chunk full but the last, which is flagged (and empty only when all is). */
function sealStream(key: Buffer, plaintext: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  let off = 0;
  for (;;) {
    const end = Math.min(off + CHUNK, plaintext.length);
    const last = end === plaintext.length;
    if (last) nonce[11] = 1;
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    out.push(c.update(plaintext.subarray(off, end)), c.final(), c.getAuthTag());
    if (last) return out;
    off = end;
    for (let i = 10; i >= 0; i--) {
      nonce[i] = (nonce[i]! + 1) & 0xff;
      if (nonce[i] !== 0) break;
    }
  }
}
