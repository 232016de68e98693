import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The agent has one clock (src/agent/clock.ts), injected: a part that read Date.now() or set
 * its own timers would escape a test's fake clock (and did: seven files read the time past it).
 * main.ts is exempt: its -k wait for an old agent to exit runs on the CLI side, not in the agent.
 */
const AGENT = resolve(import.meta.dirname, '../../src/agent');
const EXEMPT = new Set(['clock.ts', 'main.ts']);
/** The parts, whose timers a fake clock must drive (idle lock, idle GC, refresh ahead, flow expiry). */
const PART_DIRS = /^(lock|credentials|secrets|flows)\//;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** The code of a file without its comments (which may well mention Date.now()). */
const code = (file: string) => readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');

describe('one clock in the agent', () => {
  it('no file but clock.ts reads the system time', () => {
    const readers = sources(AGENT)
      .filter((f) => !EXEMPT.has(relative(AGENT, f)))
      .filter((f) => /\bDate\.now\(|\bnew Date\(\)|\bperformance\.now\(/.test(code(f)))
      .map((f) => relative(AGENT, f));
    expect(readers).toEqual([]);
  });

  it('the parts schedule their timers through it', () => {
    const parts = sources(AGENT).filter((f) => PART_DIRS.test(relative(AGENT, f)));
    expect(parts.map((f) => relative(AGENT, f))).toEqual(expect.arrayContaining(['lock/idle-lock.ts', 'lock/idle-gc.ts', 'credentials/refresh-ahead.ts', 'flows/flow-manager.ts']));
    const own = parts.filter((f) => /(?<![.\w])(setTimeout|setInterval|clearTimeout)\(/.test(code(f))).map((f) => relative(AGENT, f));
    expect(own).toEqual([]);
  });
});
