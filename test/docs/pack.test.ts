import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ROOT } from '../support/sandbox.js';

/**
 * What `npm install` would get: `npm pack --dry-run` lists the tarball's files without
 * writing it. --ignore-scripts: "prepare" would rebuild dist/ under the other tests' feet.
 */
it('npm pack ships dist, man, units, README.md and package.json, and nothing private', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path);
  const tops = new Set(files.map((p) => p.split('/')[0]!));
  expect([...tops].sort()).toEqual(['README.md', 'dist', 'man', 'package.json', 'units']);
  for (const f of ['dist/bin/sigil.js', 'dist/bin/sigil-agent.js', 'dist/bin/sigil-token.cjs', 'dist/tui/tui.mjs', 'man/sigil.1', 'man/sigil-agent.1', 'units/sigil-agent.service', 'units/dev.sigilforge.agent.plist']) {
    expect(files, f).toContain(f);
  }
  const bad = files.filter((p) => {
    const parts = p.split('/');
    return (
      parts.some((s) => ['test', 'src', '.ci', 'bench', '.bench-out', '.tmp', 'node_modules', '.git'].includes(s)) ||
      /\.log$/.test(p) ||
      /(^|\/)\.env($|\.)|\.(age|pem|key)$/.test(p)
    );
  });
  expect(bad).toEqual([]);
});
