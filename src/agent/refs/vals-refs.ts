import { isUtf8 } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { shownRef, valsParts, type ValsParts, type ValsRef } from '../../protocol/refs.js';
import type { SecretStore } from '../../stores/secret-store.js';
import type { SopsFormat } from '../../stores/sops/sops-document.js';
import { openSops, readSops, unwrapDataKey, wipe } from '../../stores/sops/sops-file.js';
import { deviceIdentity } from '../../stores/sops/sops-router.js';
import { noIdentity } from '../../stores/sops/sops-store.js';
import { valsGet, type ValsCliOptions } from './vals-cli.js';

/**
 * The value of a vals expression (resolve's `ref+…`). Two backends are read here, as vals
 * reads them: `ref+file://PATH[#/key/path]` (the file's bytes, or the value at that path of
 * the YAML or JSON in it) and `ref+sops://PATH[?format=yaml|json|binary][#/key/path]` (a SOPS
 * file decrypted with the device's age identity; it need not be one of [[storage.sops]]).
 * Every other backend goes to the vals CLI. PATH is absolute: the client made a relative one
 * absolute against its own working directory, as vals would have read it there.
 */
export interface ValsContext {
  /** The unlocked store: the device's age identity for ref+sops. */
  store: SecretStore;
  vals?: ValsCliOptions;
}

/** A file of values is read whole; one much larger than a frame is not a file of values. */
const MAX_FILE = 4 * 1024 * 1024;

export function resolveVals(ref: ValsRef, ctx: ValsContext): Promise<Buffer> {
  if (ref.backend === 'file') return fileValue(ref, valsParts(ref));
  if (ref.backend === 'sops') return sopsValue(ref, valsParts(ref), ctx.store);
  return valsGet(ref, ctx.vals);
}

async function fileValue(ref: ValsRef, parts: ValsParts): Promise<Buffer> {
  if (parts.query) throw usage(ref, 'ref+file:// takes no ?parameters');
  const bytes = await readWhole(ref, parts.path);
  if (!parts.fragment) return bytes;
  let doc: unknown;
  try {
    doc = parseYaml(bytes.toString('utf8'));
  } catch {
    // Not the parser's message: it quotes the text it could not parse, which may be a secret.
    throw usage(ref, `${parts.path} is not YAML or JSON, so #/… names nothing in it`);
  } finally {
    bytes.fill(0);
  }
  return leafValue(ref, dig(doc, parts.fragment), parts.fragment);
}

async function sopsValue(ref: ValsRef, parts: ValsParts, store: SecretStore): Promise<Buffer> {
  const format = sopsFormat(ref, parts);
  const bytes = await readWhole(ref, parts.path);
  if (!isUtf8(bytes)) throw usage(ref, `${parts.path} is not a SOPS file (YAML or JSON text)`);
  const text = bytes.toString('utf8');
  const where = parts.path;
  const identity = await deviceIdentity(store);
  if (!identity) throw noIdentity(where);
  const doc = readSops(text, format.type, where);
  const key = await unwrapDataKey(doc, identity);
  let entries;
  try {
    entries = openSops(text, format.type, key, where, doc).entries;
  } finally {
    key.fill(0);
  }
  try {
    // A binary SOPS file (vals' default without #/…) keeps the whole content under `data`.
    const keys = parts.fragment ?? ['data'];
    const name = keys.join('/');
    const entry = entries.get(name);
    if (entry) return Buffer.from(entry.plain.bytes);
    if (!parts.fragment) throw usage(ref, `${where} is not a binary SOPS file (no data key): name a value with #/key/path`);
    if ([...entries.keys()].some((n) => n.startsWith(name + '/'))) throw usage(ref, `#/${name} is a map or a list in ${where}, not one value`);
    throw new SigilError(ErrorCode.NOT_FOUND, `${where} has no value at #/${name}`);
  } finally {
    wipe(entries);
  }
}

/** vals' `format`: yaml or json documents (binary is a JSON document whose value is `data`); else by the file's name. */
function sopsFormat(ref: ValsRef, parts: ValsParts): { type: SopsFormat } {
  const params = new URLSearchParams(parts.query);
  for (const name of params.keys()) if (name !== 'format') throw usage(ref, `ref+sops:// takes only ?format=yaml|json|binary here, not ?${name}=`);
  const format = params.get('format');
  if (format === null) return { type: /\.json$/i.test(parts.path) ? 'json' : 'yaml' };
  if (format === 'yaml' || format === 'json') return { type: format };
  if (format === 'binary') return { type: 'json' };
  throw usage(ref, `ref+sops:// reads format=yaml, json or binary, not ${format}`);
}

async function readWhole(ref: ValsRef, path: string): Promise<Buffer> {
  if (!isAbsolute(path)) throw usage(ref, 'the path must be absolute (sigil makes a relative one absolute against its working directory)');
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw usage(ref, `${path} is a directory`);
    if (st.size > MAX_FILE) throw usage(ref, `${path} is larger than ${MAX_FILE / 1024 / 1024} MiB`);
    return await readFile(path);
  } catch (err) {
    if (err instanceof SigilError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SigilError(ErrorCode.NOT_FOUND, `no file at ${path} (${shownRef(ref.expr)})`);
    if (code === 'EACCES') throw new SigilError(ErrorCode.FORBIDDEN, `cannot read ${path}: permission denied`);
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${path}: ${code ?? 'unreadable'}`);
  }
}

function dig(doc: unknown, keys: readonly string[]): unknown {
  let at: unknown = doc;
  for (const key of keys) {
    if (Array.isArray(at)) at = /^\d+$/.test(key) ? at[Number(key)] : undefined;
    else if (at !== null && typeof at === 'object') at = Object.hasOwn(at, key) ? (at as Record<string, unknown>)[key] : undefined;
    else return undefined;
  }
  return at;
}

function leafValue(ref: ValsRef, value: unknown, keys: readonly string[]): Buffer {
  const at = `#/${keys.join('/')}`;
  if (value === undefined || value === null) throw new SigilError(ErrorCode.NOT_FOUND, `${valsParts(ref).path} has no value at ${at}`);
  if (typeof value === 'object') throw usage(ref, `${at} is a map or a list, not one value`);
  return Buffer.from(String(value), 'utf8');
}

function usage(ref: ValsRef, why: string): SigilError {
  return new SigilError(ErrorCode.BAD_REQUEST, `${shownRef(ref.expr)}: ${why}`);
}
