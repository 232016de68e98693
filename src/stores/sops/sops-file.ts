/**
 * A SOPS file opened with its data key: every value decrypted and the MAC checked, and the
 * same file written back with changes (getsops/sops sops.go Encrypt/Decrypt, cmd/sops).
 *
 * - The data key is the one in the file's `sops.age` stanza for this device's recipient,
 *   unwrapped with the device's age identity. It is kept, not replaced, on a write: the
 *   stanzas of every other recipient (and any KMS/PGP keys) stay valid untouched.
 * - Values left unchanged keep their ciphertext byte for byte (sops re-encrypts them with the
 *   same IV for the same reason: a diff shows what changed).
 * - Which values are encrypted follows the file's rules (`unencrypted_suffix`, default
 *   `_unencrypted`; `encrypted_suffix`; `encrypted_regex`; `unencrypted_regex`): Sigilforge
 *   refuses to write a secret where the rules would leave it in clear.
 * - Every write is checked by opening its result (decrypt all, MAC) before it is returned.
 */
import { isUtf8 } from 'node:buffer';
import { armor, Decrypter, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { describe, SopsDocument, type SopsFormat, type SopsPath } from './sops-document.js';
import { canonical, decryptValue, encryptValue, fitsType, goFloat, isEncrypted, MacHash, macBytes, pathAad, type Plain, type SopsType } from './sops-value.js';

const DATA_KEY_BYTES = 32;
/** sops' default rule when a file names none (stores.go, for files of sops 1.x/2.x). */
const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';
/** Metadata Sigilforge cannot honour when writing: reading such a file would be half right. */
const UNSUPPORTED = ['key_groups', 'shamir_threshold', 'unencrypted_comment_regex', 'encrypted_comment_regex'];

export interface SopsEntry {
  path: SopsPath;
  plain: Plain;
}

export interface OpenedSops {
  /** The file's text as read (or written): what a later write starts from. */
  text: string;
  format: SopsFormat;
  dataKey: Buffer;
  /** Values by name (path parts joined with "/"), in document order. */
  entries: Map<string, SopsEntry>;
  /** The `age1…` recipients the file is encrypted to. */
  recipients: string[];
}

/** A change for {@link writeSops}: a value (the caller's, not wiped here) or null to remove. */
export interface SopsChange {
  name: string;
  value: Buffer | null;
}

interface Rules {
  encrypted(path: SopsPath): boolean;
  macOnlyEncrypted: boolean;
  lastModified: string;
  mac: string;
}

/** A file's text as a document (parsed once for both the data key and the values). */
export function readSops(text: string, format: SopsFormat, where: string): SopsDocument {
  return SopsDocument.parse(text, format, where);
}

/** The data key of `doc` for `identity` (an AGE-SECRET-KEY-1…). The caller wipes it. */
export async function unwrapDataKey(doc: SopsDocument, identity: string): Promise<Buffer> {
  const where = doc.where;
  const stanzas = ageStanzas(metadataOf(doc), where);
  // Not the library's message: a parser's error may quote what it could not parse, the key.
  const own = await identityToRecipient(identity).catch(() => {
    throw new SigilError(ErrorCode.INTERNAL, "the device's age identity is not valid (not an AGE-SECRET-KEY-1… line)");
  });
  const stanza = stanzas.find((s) => s.recipient === own);
  if (!stanza) {
    const list = stanzas.length ? stanzas.map((s) => s.recipient).join(', ') : 'none';
    throw new SigilError(
      ErrorCode.FORBIDDEN,
      `${where} is not encrypted to this device's age key ${own} (its age recipients: ${list}); someone who can open it adds you with: sops updatekeys, or sops -r -i --add-age ${own} FILE`,
    );
  }
  let key: Uint8Array;
  try {
    const d = new Decrypter();
    d.addIdentity(identity);
    key = await d.decrypt(armor.decode(stanza.enc));
  } catch {
    throw new SigilError(ErrorCode.INTERNAL, `${where}: the data key for ${own} does not decrypt with this device's age identity`);
  }
  if (key.length !== DATA_KEY_BYTES) throw new SigilError(ErrorCode.INTERNAL, `${where}: the data key is ${key.length} bytes, not ${DATA_KEY_BYTES}`);
  return Buffer.from(key);
}

/** Decrypts every value of `text` with `dataKey` (kept by the caller) and checks the MAC. */
export function openSops(text: string, format: SopsFormat, dataKey: Buffer, where: string, doc = readSops(text, format, where)): OpenedSops {
  const meta = metadataOf(doc);
  const rules = rulesOf(meta, where);
  const { entries, mac } = decryptAll(doc, rules, dataKey, where);
  let stored: Plain;
  try {
    stored = decryptValue(rules.mac, dataKey, macAad(rules.lastModified, where), `${where}: sops.mac`);
  } catch {
    wipe(entries);
    throw macMismatch(where);
  }
  if (stored.bytes.toString() !== mac) {
    wipe(entries);
    throw macMismatch(where);
  }
  return { text, format, dataKey, entries, recipients: ageStanzas(meta, where).map((s) => s.recipient) };
}

/**
 * The text of `file` with `changes` made, a new `lastmodified` and MAC, checked by opening it,
 * and that opening. Throws (and changes nothing) when a change cannot be written back.
 */
export function writeSops(file: OpenedSops, changes: readonly SopsChange[], now: Date, where: string): OpenedSops {
  const doc = SopsDocument.parse(file.text, file.format, where);
  const meta = metadataOf(doc);
  const rules = rulesOf(meta, where);
  for (const change of changes) {
    const parts = change.name.split('/');
    const path = file.entries.get(change.name)?.path ?? doc.resolve(parts);
    if (change.value === null) {
      doc.deleteValue(path);
      continue;
    }
    if (!rules.encrypted(path)) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `cannot write ${describe(path)} to ${where}: the file's rules (${ruleText(meta)}) leave that key unencrypted`);
    }
    if (!isUtf8(change.value)) throw new SigilError(ErrorCode.BAD_REQUEST, `cannot write ${describe(path)} to ${where}: the value is not UTF-8 text (YAML and JSON hold text)`);
    const old = file.entries.get(change.name)?.plain.type;
    // A number or a flag stays one when the new value is one (`port: 5432` → 5433).
    const type: SopsType = old && old !== 'str' && old !== 'bytes' && old !== 'comment' && fitsType(change.value.toString(), old) ? old : 'str';
    const plain = type === 'str' ? change.value : canonical(Buffer.from(change.value), type, where);
    doc.setValue(path, encryptValue(plain, type, file.dataKey, pathAad(path)));
    if (plain !== change.value) plain.fill(0);
  }
  const lastModified = rfc3339(now);
  doc.setMetadata('lastmodified', lastModified);
  const { entries, mac } = decryptAll(doc, rulesOf(metadataOf(doc), where), file.dataKey, where);
  wipe(entries);
  doc.setMetadata('mac', encryptValue(Buffer.from(mac), 'str', file.dataKey, lastModified));
  return openSops(doc.toString(), file.format, file.dataKey, where);
}

/** Wipes the decrypted values (not the data key: the caller's). */
export function wipe(entries: Map<string, SopsEntry>): void {
  for (const e of entries.values()) e.plain.bytes.fill(0);
  entries.clear();
}

function decryptAll(doc: SopsDocument, rules: Rules, key: Buffer, where: string): { entries: Map<string, SopsEntry>; mac: string } {
  const hash = new MacHash(rules.macOnlyEncrypted);
  const entries = new Map<string, SopsEntry>();
  try {
    for (const leaf of doc.leaves()) {
      if (leaf.value === null) continue; // sops skips nil values: neither hashed nor encrypted
      const encrypted = rules.encrypted(leaf.path);
      let plain: Plain;
      if (encrypted) {
        if (typeof leaf.value !== 'string' || (leaf.value !== '' && !isEncrypted(leaf.value))) {
          throw new SigilError(ErrorCode.INTERNAL, `${where}: ${describe(leaf.path)} is not encrypted, but the file's rules say it must be (added by hand?)`);
        }
        plain = decryptValue(leaf.value, key, pathAad(leaf.path), `${where}: ${describe(leaf.path)}`);
      } else plain = clearValue(leaf.value, doc.format);
      if (!rules.macOnlyEncrypted || encrypted) hash.add(macBytes(plain.bytes, plain.type));
      // A name is the path's parts joined with "/": a key that holds "/" has no name.
      if (!leaf.path.some((p) => typeof p === 'string' && p.includes('/'))) entries.set(leaf.path.join('/'), { path: leaf.path, plain });
    }
  } catch (err) {
    wipe(entries);
    throw err;
  }
  return { entries, mac: hash.hex() };
}

/** An unencrypted value as sops reads it: YAML ints are Go ints, JSON numbers Go float64s. */
function clearValue(v: string | number | bigint | boolean, format: SopsFormat): Plain {
  if (typeof v === 'string') return { bytes: Buffer.from(v, 'utf8'), type: 'str' };
  if (typeof v === 'boolean') return { bytes: Buffer.from(String(v)), type: 'bool' };
  if (typeof v === 'bigint' && format === 'yaml') return { bytes: Buffer.from(v.toString()), type: 'int' };
  return { bytes: Buffer.from(goFloat(Number(v))), type: 'float' };
}

function metadataOf(doc: SopsDocument): Record<string, unknown> {
  const meta = doc.metadata();
  if (!meta) throw new SigilError(ErrorCode.INTERNAL, `${doc.where} is not a SOPS file: it has no "sops" metadata (encrypt it with sops first)`);
  for (const key of UNSUPPORTED) {
    const v = meta[key];
    if (v !== undefined && v !== null && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0)) {
      throw new SigilError(ErrorCode.INTERNAL, `${doc.where} uses sops.${key}, which Sigilforge does not support: use the age recipients list`);
    }
  }
  return meta;
}

function ageStanzas(meta: Record<string, unknown>, where: string): Array<{ recipient: string; enc: string }> {
  const age = meta.age ?? [];
  if (!Array.isArray(age) || !age.every((s) => typeof s?.recipient === 'string' && typeof s?.enc === 'string')) {
    throw new SigilError(ErrorCode.INTERNAL, `${where}: sops.age must be a list of { recipient, enc }`);
  }
  return age as Array<{ recipient: string; enc: string }>;
}

function rulesOf(meta: Record<string, unknown>, where: string): Rules {
  const str = (k: string): string => {
    const v = meta[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new SigilError(ErrorCode.INTERNAL, `${where}: sops.${k} must be a string`);
    return v;
  };
  const lastModified = str('lastmodified');
  const mac = str('mac');
  if (!lastModified || !mac) throw new SigilError(ErrorCode.INTERNAL, `${where}: the sops metadata has no ${lastModified ? 'mac' : 'lastmodified'}`);
  const unencSuffix = str('unencrypted_suffix');
  const encSuffix = str('encrypted_suffix');
  const unencRegex = goRegex(str('unencrypted_regex'), 'unencrypted_regex', where);
  const encRegex = goRegex(str('encrypted_regex'), 'encrypted_regex', where);
  const none = !unencSuffix && !encSuffix && !unencRegex && !encRegex;
  const suffix = none ? DEFAULT_UNENCRYPTED_SUFFIX : unencSuffix;
  const keys = (path: SopsPath) => path.filter((p): p is string => typeof p === 'string');
  return {
    lastModified,
    mac,
    macOnlyEncrypted: meta.mac_only_encrypted === true,
    // sops.go shouldBeEncrypted: each rule looks at every key on the path, in this order.
    encrypted(path) {
      let enc = true;
      if (suffix && keys(path).some((k) => k.endsWith(suffix))) enc = false;
      if (encSuffix) enc = keys(path).some((k) => k.endsWith(encSuffix));
      if (unencRegex && keys(path).some((k) => unencRegex.test(k))) enc = false;
      if (encRegex) enc = keys(path).some((k) => encRegex.test(k));
      return enc;
    },
  };
}

function ruleText(meta: Record<string, unknown>): string {
  for (const k of ['encrypted_regex', 'unencrypted_regex', 'encrypted_suffix', 'unencrypted_suffix']) {
    if (typeof meta[k] === 'string' && meta[k]) return `${k} ${JSON.stringify(meta[k])}`;
  }
  return `unencrypted_suffix "${DEFAULT_UNENCRYPTED_SUFFIX}"`;
}

/** A Go (RE2) regular expression as JavaScript's: the same for sops' usual patterns; (?i) becomes a flag. */
function goRegex(src: string, key: string, where: string): RegExp | null {
  if (!src) return null;
  const flags = src.startsWith('(?i)') ? 'i' : '';
  try {
    return new RegExp(flags ? src.slice(4) : src, flags);
  } catch {
    throw new SigilError(ErrorCode.INTERNAL, `${where}: sops.${key} is not a regular expression Sigilforge can read`);
  }
}

/** The MAC's AAD: lastmodified as Go re-formats it (RFC 3339, whole seconds, Z for UTC). */
function macAad(lastModified: string, where: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(lastModified);
  if (!m) throw new SigilError(ErrorCode.INTERNAL, `${where}: sops.lastmodified is not an RFC 3339 time`);
  return m[1]! + (m[2] === '+00:00' || m[2] === '-00:00' ? 'Z' : m[2]!);
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function macMismatch(where: string): SigilError {
  return new SigilError(ErrorCode.INTERNAL, `${where}: MAC mismatch — the file was changed without its data key (a value edited by hand, or tampered with); nothing is served from it`);
}
