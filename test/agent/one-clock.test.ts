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
/** The parts whose timers a fake clock must drive (idle lock, idle GC, refresh ahead, flow expiry). */
const PARTS = ['vault-lock.ts', 'idle-lock.ts', 'idle-gc.ts', 'unlock-throttle.ts', 'credentials.ts', 'token-service.ts', 'refresh-ahead.ts', 'secrets.ts', 'secret-history.ts', 'flow-manager.ts'];

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
    const byName = new Map(sources(AGENT).map((f) => [relative(AGENT, f).split('/').pop()!, f]));
    expect(PARTS.filter((p) => !byName.has(p))).toEqual([]); // moved or renamed: update the list
    const own = PARTS.filter((p) => /(?<![.\w])(setTimeout|setInterval|clearTimeout)\(/.test(code(byName.get(p)!)));
    expect(own).toEqual([]);
  });
});
