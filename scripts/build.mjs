// Build: tsc for everything, then one CommonJS bundle for sigil-token, the hot path —
// a single file saves the module resolution and ESM loader start-up of ~10 files.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// No clean first: a failed compile must not leave other processes (tests) without a dist/.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
await build({
  entryPoints: ['src/bin/sigil-token.ts'],
  outfile: 'dist/bin/sigil-token.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
rmSync('dist/bin/sigil-token.js', { force: true });
for (const bin of ['sigil.js', 'sigil-agent.js', 'sigil-token.cjs']) chmodSync(`dist/bin/${bin}`, 0o755);
