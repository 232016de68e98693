/**
 * A SOPS file as a document: its values in order, with their paths, and the edits a write
 * makes (set a value, remove one, update `sops.lastmodified` / `sops.mac`).
 *
 * Both formats are read with eemeli/yaml (JSON is YAML), whose Document keeps key order,
 * comments and quoting, so a YAML file written back differs from the one read only in the
 * lines that changed (`git diff` shows the secret that changed, and the MAC). JSON is written
 * as sops writes it (Go's json.Indent with tabs; numbers as they were in the file).
 */
import { isMap, isPair, isScalar, isSeq, parseDocument, Scalar, YAMLMap, type Document, type Node, type YAMLSeq } from 'yaml';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';

export type SopsFormat = 'yaml' | 'json';
/** Keys of maps, indices of lists. */
export type SopsPath = ReadonlyArray<string | number>;

export interface Leaf {
  path: SopsPath;
  /** The scalar as the file holds it: an ENC[…] string, or an unencrypted value. */
  value: string | number | bigint | boolean | null;
}

/** The key under which sops keeps its metadata, beside the data. */
export const METADATA_KEY = 'sops';

export class SopsDocument {
  private constructor(
    private readonly doc: Document.Parsed,
    readonly format: SopsFormat,
    private readonly source: string,
    /** Names the file in errors. */
    readonly where: string,
  ) {}

  static parse(text: string, format: SopsFormat, where: string): SopsDocument {
    // intAsBigInt: sops hashes ints as Go prints them, and a JS number loses digits past 2^53.
    // uniqueKeys compares each key with every other (quadratic): leaves() checks with a Set.
    const doc = parseDocument(text, { prettyErrors: false, intAsBigInt: true, uniqueKeys: false });
    const err = doc.errors[0];
    if (err) {
      // The parser's own message only: its pretty form quotes the file's lines.
      const line = text.slice(0, err.pos[0]).split('\n').length;
      throw new SigilError(ErrorCode.INTERNAL, `${where} line ${line}: not valid ${format.toUpperCase()} (${err.code})`);
    }
    if (!isMap(doc.contents)) throw new SigilError(ErrorCode.INTERNAL, `${where} is not a SOPS file: its top level is not a map`);
    return new SopsDocument(doc, format, text, where);
  }

  /** The `sops` metadata as plain data; null when the file has none (not encrypted by sops). */
  metadata(): Record<string, unknown> | null {
    const meta = (this.doc.contents as YAMLMap).get(METADATA_KEY, true);
    if (!isMap(meta)) return null;
    return meta.toJSON() as Record<string, unknown>;
  }

  /** Every value in document order (the order the MAC covers), the metadata left out. */
  leaves(): Leaf[] {
    const out: Leaf[] = [];
    const walk = (node: unknown, path: Array<string | number>): void => {
      if (isMap(node)) {
        const seen = new Set<string>();
        for (const pair of node.items) {
          const key = keyOf(pair.key, path, this.where);
          if (seen.has(key)) throw new SigilError(ErrorCode.INTERNAL, `${this.where}: ${describe([...path, key])} is defined twice`);
          seen.add(key);
          if (path.length === 0 && key === METADATA_KEY) continue;
          walk(pair.value, [...path, key]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(item, [...path, i]));
      } else if (node === null || node === undefined) {
        out.push({ path, value: null }); // `key:` with nothing: sops neither hashes nor encrypts it
      } else if (isScalar(node)) {
        out.push({ path, value: node.value as Leaf['value'] });
      } else {
        throw new SigilError(ErrorCode.INTERNAL, `${this.where}: ${describe(path)} is an alias or tag Sigilforge does not read; edit the file with sops`);
      }
    };
    walk(this.doc.contents, []);
    return out;
  }

  /**
   * Puts `text` at `path`, making the maps on the way; a value there is replaced in place
   * (its key keeps its position). Lists are not grown: a new item changes what every later
   * index names.
   */
  setValue(path: SopsPath, text: string): void {
    let coll: YAMLMap | YAMLSeq = this.doc.contents as YAMLMap;
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      const last = i === path.length - 1;
      const child = coll.get(key, true) as unknown;
      if (isSeq(coll) && (typeof key !== 'number' || key >= coll.items.length)) {
        throw cannotWrite(path, `${describe(path.slice(0, i))} is a list: only its existing items can be replaced`);
      }
      if (last) {
        if (isMap(child) || isSeq(child)) throw cannotWrite(path, `${describe(path)} is a ${isMap(child) ? 'map' : 'list'}, not a value`);
        if (isScalar(child)) {
          child.value = text;
          child.type = Scalar.PLAIN; // ENC[…] needs no quotes; the library quotes where it must
        } else this.add(coll, key, new Scalar(text));
        return;
      }
      if (child === undefined || child === null) {
        if (isSeq(coll)) throw cannotWrite(path, `${describe(path.slice(0, i + 1))} is empty`);
        const map = new YAMLMap();
        this.add(coll, key, map);
        coll = map;
      } else if (isMap(child) || isSeq(child)) coll = child;
      else throw cannotWrite(path, `${describe(path.slice(0, i + 1))} is a value, not a map`);
    }
  }

  /** A new key goes last, but before the metadata at the top level (where sops keeps it). */
  private add(coll: YAMLMap | YAMLSeq, key: string | number, node: Scalar | YAMLMap): void {
    if (isSeq(coll)) return coll.set(key, node);
    const items = coll.items;
    const meta = coll === this.doc.contents ? items.findIndex((p) => keyName(p.key) === METADATA_KEY) : -1;
    if (meta === -1) coll.set(key, node);
    else items.splice(meta, 0, this.doc.createPair(key, node) as (typeof items)[number]);
  }

  /** Removes the value at `path` and the maps it leaves empty; false when there was none. */
  deleteValue(path: SopsPath): boolean {
    const chain: Array<YAMLMap | YAMLSeq> = [this.doc.contents as YAMLMap];
    for (const key of path.slice(0, -1)) {
      const child = chain.at(-1)!.get(key, true) as unknown;
      if (!isMap(child) && !isSeq(child)) return false;
      chain.push(child);
    }
    const parent = chain.at(-1)!;
    const key = path.at(-1)!;
    const target = parent.get(key, true) as unknown;
    if (target === undefined || isMap(target) || isSeq(target)) return false;
    if (isSeq(parent)) throw cannotWrite(path, `${describe(path)} is a list item: removing it would renumber the items after it; edit the file with sops`);
    parent.delete(key);
    for (let i = chain.length - 1; i > 0 && chain[i]!.items.length === 0; i--) chain[i - 1]!.delete(path[i - 1]!);
    return true;
  }

  /** A name's parts as a path: digits index a list where the document has one there. */
  resolve(parts: readonly string[]): SopsPath {
    let node: unknown = this.doc.contents;
    return parts.map((part) => {
      const key = isSeq(node) && /^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part;
      node = isMap(node) || isSeq(node) ? node.get(key, true) : undefined;
      return key;
    });
  }

  /** Sets a string in the metadata (`lastmodified`, `mac`), in place. */
  setMetadata(key: string, value: string): void {
    const meta = (this.doc.contents as YAMLMap).get(METADATA_KEY, true) as unknown as YAMLMap;
    const node = meta.get(key, true);
    if (isScalar(node)) node.value = value;
    else meta.set(key, value);
  }

  toString(): string {
    // lineWidth 0: never fold a long ENC[…] line. The file's own indentation, so the lines
    // that did not change stay byte for byte (sops 3.9 indents by 4, older files by 2).
    if (this.format === 'yaml') return this.doc.toString({ lineWidth: 0, ...yamlIndentation(this.source) });
    const out = jsonOf(this.doc.contents as Node, '', this.source);
    return this.source.endsWith('\n') ? out + '\n' : out;
  }
}

/** Names a path in messages the way a person names the secret: `db/password`. */
export function describe(path: SopsPath): string {
  return path.length ? path.join('/') : 'the top level';
}

function cannotWrite(path: SopsPath, why: string): SigilError {
  return new SigilError(ErrorCode.BAD_REQUEST, `cannot write ${describe(path)} back to the SOPS file: ${why}`);
}

function keyName(key: unknown): unknown {
  return isScalar(key) ? key.value : key;
}

function keyOf(key: unknown, path: SopsPath, where: string): string {
  if (typeof key === 'string') return key; // a key this document added
  if (isScalar(key) && typeof key.value === 'string') return key.value;
  throw new SigilError(ErrorCode.INTERNAL, `${where}: a key under ${describe(path)} is not a string (sops reads string keys only)`);
}

/**
 * How a YAML file indents: a map under its key (`indent`), and whether a list under its key is
 * indented by as much (`indentSeq`; else its "- " sits `indent - 2` in, as eemeli/yaml writes
 * it), from the first key of each kind whose value starts on the next line.
 */
function yamlIndentation(text: string): { indent: number; indentSeq: boolean } {
  let indent: number | undefined;
  let seqOffset: number | undefined;
  const lines = text.split('\n');
  const depth = (l: string) => l.length - l.trimStart().length;
  for (let i = 0; i < lines.length && (indent === undefined || seqOffset === undefined); i++) {
    const line = lines[i]!;
    if (!/^ *(- )?[^\s#-][^#]*:\s*$/.test(line)) continue; // a key whose value starts below it
    const next = lines.slice(i + 1).find((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
    if (next === undefined) break;
    const own = depth(line) + (line.trimStart().startsWith('- ') ? 2 : 0);
    if (next.trimStart().startsWith('- ')) seqOffset ??= depth(next) - own;
    else if (depth(next) > own) indent ??= depth(next) - own;
  }
  indent ??= 2;
  return { indent, indentSeq: seqOffset === undefined || seqOffset >= indent };
}

/** Go's json.Indent(…, "\t") of sops' encoding: `"key": value`, one item per line. */
function jsonOf(node: unknown, indent: string, source: string): string {
  const inner = indent + '\t';
  if (isMap(node)) {
    if (node.items.length === 0) return '{}';
    const items = node.items.map((p) => {
      if (!isPair(p)) throw new Error('unexpected map item');
      const key = isScalar(p.key) ? String(p.key.value) : String(p.key);
      return `${inner}${goString(key)}: ${jsonOf(p.value, inner, source)}`;
    });
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  if (isSeq(node)) {
    if (node.items.length === 0) return '[]';
    return `[\n${node.items.map((v) => inner + jsonOf(v, inner, source)).join(',\n')}\n${indent}]`;
  }
  if (node === null || node === undefined) return 'null';
  if (!isScalar(node)) throw new Error('unexpected JSON node');
  const v = node.value;
  if (typeof v === 'string') return goString(v);
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  // A number as the file spelled it (1.50 stays 1.50); one of ours has no range.
  return node.range ? source.slice(node.range[0], node.range[1]) : String(v);
}

/** Go's encoding/json string: as JSON.stringify, with <, >, & and U+2028/9 escaped. */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
