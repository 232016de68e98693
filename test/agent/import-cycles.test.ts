import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The agent's parts import each other in one direction only: an import circle (AgentState
 * ↔ token-service, flow-manager, refresh-ahead, once) makes every part of it need all the
 * others to be built or tested. Type-only imports count: they tie the parts together the same.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const AGENT = join(ROOT, 'src/agent');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative module specifiers: static imports and re-exports (also `import type`), and import(). */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)['"](\.{1,2}\/[^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const base = resolve(dirname(file), m[1]!).replace(/\.js$/, '');
    const target = ['.ts', '.tsx', '/index.ts'].map((ext) => base + ext).find((p) => existsSync(p));
    if (target?.startsWith(AGENT + '/')) out.push(target);
  }
  return out;
}

/** Each import circle once, as the chain of files that closes it (Tarjan's strongly connected components). */
function importCycles(files: string[], edges: (file: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || edges(v).includes(v)) cycles.push(component.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

describe('src/agent has no import circle', () => {
  it('finds a circle where there is one (the walk itself)', () => {
    const graph: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: ['a'], e: ['e'] };
    expect(importCycles(Object.keys(graph), (f) => graph[f]!)).toEqual([['a', 'b', 'c'], ['e']]);
    const tree: Record<string, string[]> = { a: ['b', 'c'], b: ['c'], c: [] };
    expect(importCycles(Object.keys(tree), (f) => tree[f]!)).toEqual([]);
  });

  it('reads the imports of every kind', () => {
    const files = sources(AGENT);
    expect(files.length).toBeGreaterThan(20);
    const rel = (f: string) => relative(AGENT, f);
    expect(importsOf(join(AGENT, 'run-agent.ts')).map(rel)).toContain('agent-state.ts');
    // `import type` counts.
    expect(importsOf(join(AGENT, 'op-table.ts')).map(rel)).toContain('agent-state.ts');
  });

  it('no part (lock/, credentials/, secrets/, flows/) imports the composition root, the ops or the dispatcher', () => {
    const wiring = ['agent-state.ts', 'run-agent.ts', 'op-table.ts', 'dispatch.ts', 'connection.ts'];
    const parts = sources(AGENT).filter((f) => /^(lock|credentials|secrets|flows)\//.test(relative(AGENT, f)));
    expect(parts.length).toBeGreaterThan(10);
    const reaching = parts.flatMap((f) =>
      importsOf(f)
        .map((t) => relative(AGENT, t))
        .filter((t) => wiring.includes(t) || t.startsWith('ops/'))
        .map((t) => `${relative(AGENT, f)} → ${t}`),
    );
    expect(reaching).toEqual([]);
  });

  it('among all the .ts files of src/agent', () => {
    const files = sources(AGENT);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const cycles = importCycles(files, (f) => graph.get(f) ?? []).map((c) => c.map((f) => relative(ROOT, f)).join(' ↔ '));
    expect(cycles).toEqual([]);
  });
});
