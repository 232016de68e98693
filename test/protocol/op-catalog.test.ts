import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
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

/**
 * The arguments an op's sigil-protocol(7) entry lists ("Args:" up to the end of its sentence;
 * names in parentheses are explanations), `?` marking an optional one; [] for "No args.".
 */
function manPageArgs(text: string): string[] | undefined {
  if (/^No args\./.test(text)) return [];
  if (!text.startsWith('Args:\n')) return undefined;
  const args: string[] = [];
  let depth = 0;
  for (const line of text.slice('Args:\n'.length).split('\n')) {
    const macro = /^\.(B|BR) (\S+)/.exec(line);
    if (macro && depth === 0) args.push(macro[2]!.replace(/\\-/g, '-'));
    for (const ch of line) depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth === 0 && /\.$/.test(line)) break;
  }
  return args;
}

/** Each op's argument names as OpSignatures types them (`?`: optional), read with the type checker. */
function catalogueArgs(): Map<string, string[]> {
  const file = join(ROOT, 'src/protocol/op-catalog.ts');
  // No @types and the smallest lib: the argument types need none, and the check stays quick.
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const signatures = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'OpSignatures')!;
  const typeOf = (symbol: ts.Symbol) => checker.getTypeOfSymbolAtLocation(symbol, signatures);
  const args = new Map<string, string[]>();
  for (const op of checker.getTypeAtLocation(signatures).getProperties()) {
    const argsType = typeOf(typeOf(op).getProperty('args')!);
    args.set(op.name, checker.getPropertiesOfType(argsType).map((p) => p.name + (p.flags & ts.SymbolFlags.Optional ? '?' : '')));
  }
  return args;
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

  it("lists in sigil-protocol(7) each op's arguments as OpSignatures types them, optional ones marked ?", () => {
    const typed = catalogueArgs();
    expect([...typed.keys()].sort()).toEqual([...OPS].sort());
    const documented = new Map([...manPageOps()].map(([op, text]) => [op, manPageArgs(text)]));
    for (const op of OPS) expect(documented.get(op), op).toEqual(typed.get(op));
    // The reader itself: an explanation in parentheses is not an argument.
    expect(manPageArgs('Args:\n.B kind?\n.RB ( auth_code ,\nthe default, or\n.BR device ),\n.B scopes?\n(a list).\nResult:\n.BR flow_id .\n')).toEqual(['kind?', 'scopes?']);
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
