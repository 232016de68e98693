import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { ROOT, Sandbox } from './support/sandbox.js';

it('reports the version package.json declares', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(VERSION).toBe(pkg.version);
});

// `sigil-token --version` was a usage error (exit 2); `git-credential-sigil --version` printed nothing.
const sb = new Sandbox();
afterAll(() => sb.cleanup());
it.each([
  ['sigil', 'sigil.js'],
  ['sigil-agent', 'sigil-agent.js'],
  ['sigil-token', 'sigil-token.cjs'],
  ['git-credential-sigil', 'git-credential-sigil.js'],
])('%s --version prints "NAME VERSION" and exits 0, run as installed', async (name, file) => {
  // Executed directly, so through its #! line, as from PATH after npm install.
  for (const flag of ['--version', '-V']) {
    const r = await sb.exec(join(ROOT, 'dist/bin', file), [flag]);
    expect(r).toMatchObject({ code: 0, stdout: `${name} ${VERSION}\n`, stderr: '' });
  }
});
