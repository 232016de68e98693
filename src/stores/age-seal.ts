import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter, type Recipient } from 'age-encryption';

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

/**
 * The inverse, for files sealed to an X25519 identity: typage checks the header (stanzas and
 * HMAC, `decryptHeader`) and hands back the file key, and Node's native ChaCha20-Poly1305 opens
 * the STREAM payload (typage's JavaScript one took ~120 ms for a 10,000-secret vault: every
 * unlock, and each of the vaults a sync merges). Any file age accepts is accepted: chunks of
 * 64 KiB, each authenticated, the last flagged, an empty last chunk only for an empty payload.
 */
export async function openWithIdentity(sealed: Uint8Array, identity: string | readonly string[]): Promise<Buffer> {
  const file = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const headerEnd = macLineEnd(file);
  const d = new Decrypter();
  for (const i of typeof identity === 'string' ? [identity] : identity) d.addIdentity(i);
  const fileKey = await d.decryptHeader(file.subarray(0, headerEnd));
  if (file.length < headerEnd + NONCE + TAG) throw new Error('truncated age file: no payload');
  const nonce = file.subarray(headerEnd, headerEnd + NONCE);
  const streamKey = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  fileKey.fill(0);
  try {
    return openStream(streamKey, file.subarray(headerEnd + NONCE));
  } finally {
    streamKey.fill(0);
  }
}

/** Where the header ends: after the "--- MAC" line (age-encryption.org/v1, "Header"). */
function macLineEnd(file: Buffer): number {
  const at = file.indexOf('\n--- ');
  const end = at === -1 ? -1 : file.indexOf(0x0a, at + 1);
  if (end === -1) throw new Error('not an age file: no header MAC line');
  return end + 1;
}

function openStream(key: Buffer, payload: Buffer): Buffer {
  const out: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  let off = 0;
  for (;;) {
    const end = Math.min(off + CHUNK + TAG, payload.length);
    const last = end === payload.length;
    if (end - off < TAG) throw new Error('truncated age payload');
    if (last) nonce[11] = 1;
    const c = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    c.setAuthTag(payload.subarray(end - TAG, end));
    const plain = c.update(payload.subarray(off, end - TAG));
    try {
      c.final();
    } catch {
      plain.fill(0);
      for (const p of out) p.fill(0);
      throw new Error('age payload authentication failed (the file is corrupt or was changed)');
    }
    if (last && plain.length === 0 && off > 0) throw new Error('age payload: an empty last chunk after others');
    out.push(plain);
    if (last) break;
    off = end;
    for (let i = 10; i >= 0; i--) {
      nonce[i] = (nonce[i]! + 1) & 0xff;
      if (nonce[i] !== 0) break;
    }
  }
  const all = Buffer.concat(out);
  for (const p of out) p.fill(0);
  return all;
}
