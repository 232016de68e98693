import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../support/sandbox.js';

/**
 * What `npm install` would get: `npm pack --dry-run` lists the tarball's files without
 * writing it. --ignore-scripts: "prepack" would rebuild dist/ under the other tests' feet.
 */
it('npm pack ships dist, man, units, README.md, LICENSE and package.json, and nothing private', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path);
  const tops = new Set(files.map((p) => p.split('/')[0]!));
  expect([...tops].sort()).toEqual(['LICENSE', 'README.md', 'dist', 'man', 'package.json', 'units']);
  for (const f of ['dist/bin/sigil.js', 'dist/bin/sigil-agent.js', 'dist/bin/sigil-token', 'dist/bin/sigil-token.cjs', 'dist/native/token-bin.js', 'dist/tui/tui.mjs', 'dist/index.js', 'dist/index.d.ts', 'man/sigil.1', 'man/sigil-agent.1', 'units/sigil-agent.service', 'units/dev.sigilforge.agent.plist']) {
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

it('npm pack ships no source maps (they pointed at src/*.ts, which it does not ship) and the MIT LICENSE package.json names', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path);
  expect(files.filter((p) => p.endsWith('.map'))).toEqual([]);
  expect(files.filter((p) => p.startsWith('dist/')).length).toBeGreaterThan(50); // the build is there
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string; scripts: Record<string, string> };
  expect(pkg.license).toBe('MIT');
  expect(files).toContain('LICENSE');
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 The Sigilforge authors\n/);
  expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
});

it('npm pack ships the declarations of the client library only, and what package.json exports points at', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path);
  const declarations = files.filter((p) => p.endsWith('.d.ts'));
  // The entry and what its types reach: the client, the protocol, a few utils; never the agent's, the CLI's or the TUI's.
  expect(declarations.filter((p) => /^dist\/(agent|cli|tui|stores|oauth|config|token|bin)\//.test(p))).toEqual([]);
  expect(declarations.length).toBeLessThan(30);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { types: string; exports: Record<string, Record<string, string> | string> };
  const main = pkg.exports['.'] as Record<string, string>;
  expect(Object.keys(main)).toEqual(['types', 'default']); // "types" must come first to be used
  for (const target of [main.types!, main.default!, pkg.types]) expect(files, target).toContain(target.replace(/^\.\//, ''));
});

it('the build runs at pack time, not on every install, and setup and npm test still build', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.prepare).toBeUndefined(); // npm 11 warns about it on install
  expect(pkg.scripts.prepack).toBe('node scripts/build.mjs');
  expect(pkg.scripts.test!.startsWith('node scripts/build.mjs && ')).toBe(true);
  const setup = readFileSync(join(ROOT, 'scripts/setup.sh'), 'utf8');
  expect(setup).toMatch(/^npm ci .*\nnpm run build$/m);
});
