import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OP_CATALOG, opFacts, OPS, policyTarget } from '../../src/protocol/op-catalog.js';

/**
 * The op catalogue is the one list of operations: everything else derives from it. These
 * tests fail when an op is listed a second time (in src, or missing from sigil-protocol(7)).
 */

const ROOT = join(import.meta.dirname, '../..');

/** The ops sigil-protocol(7) describes (each `.TP` entry's `.B name` under OPERATIONS), with their text. */
function manPageOps(): Map<string, string> {
  const page = readFileSync(join(ROOT, 'man/sigil-protocol.7'), 'utf8');
  const section = page.split(/^\.SH OPERATIONS$/m)[1]!.split(/^\.SH /m)[0]!;
  const entries = section.split(/^\.TP\n\.B (\S+)\n/m).slice(1);
  const ops = new Map<string, string>();
  for (let i = 0; i < entries.length; i += 2) ops.set(entries[i]!.replace(/\\-/g, '-'), entries[i + 1]!);
  return ops;
}

/** Two known op names next to each other in a list: `'lock', 'unlock'` (quotes of any kind, any spacing). */
function opListsIn(text: string): string[] {
  const name = `(?:${OPS.join('|')})`;
  const pair = new RegExp(`(['"\`])${name}\\1\\s*,\\s*(?://[^\\n]*\\s*)*(['"\`])${name}\\2`, 'g');
  return [...text.matchAll(pair)].map((m) => m[0]);
}

describe('op catalogue', () => {
  it('lists each op once, and sigil-protocol(7) describes exactly those', () => {
    expect(new Set(OPS).size).toBe(OPS.length);
    expect([...manPageOps().keys()].sort()).toEqual([...OPS].sort());
  });

  it('needs the unlocked vault for exactly the ops sigil-protocol(7) marks "Needs unlocked"', () => {
    for (const [op, text] of manPageOps()) expect(/^Needs\n\.BR unlocked\b/m.test(text), op).toBe(OP_CATALOG[op as keyof typeof OP_CATALOG].unlocked);
  });

  it('is the only list of op names in src', () => {
    const catalogue = join('protocol', 'op-catalog.ts');
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => /\.tsx?$/.test(f) && f !== catalogue);
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => opListsIn(readFileSync(join(ROOT, 'src', f), 'utf8')).map((list) => `${f}: ${list}`));
    expect(found).toEqual([]);
    // The check itself finds the lists that were there before the catalogue.
    expect(opListsIn("const REVEAL_OPS = new Set(['get_token', 'get_secret', 'resolve']);")).toHaveLength(1);
    expect(opListsIn("export const OPS = [\n  'hello',\n  'status',\n  // comment\n  'lock',\n]")).toHaveLength(1);
  });

  it('does not take inherited names for ops', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(opFacts(name), name).toBeUndefined();
      expect(policyTarget(name, { service: 'github', account: 'work', name: 'x' }), name).toBeUndefined();
    }
  });

  it('reveals a value only in get_token, get_secret and resolve', () => {
    expect(OPS.filter((op) => OP_CATALOG[op].reveals).sort()).toEqual(['get_secret', 'get_token', 'resolve']);
  });

  it('lets a forwarded caller use hello, status and lock, and get_token, get_secret and resolve only for what config opens (issue 11)', () => {
    const by = (use: string) => OPS.filter((op) => OP_CATALOG[op].forwarded === use).sort();
    expect(by('yes')).toEqual(['hello', 'lock', 'status']);
    expect(by('opened')).toEqual(['get_secret', 'get_token', 'resolve']);
    expect(by('no')).toHaveLength(OPS.length - 6);
  });
});
