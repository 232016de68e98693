// Build: tsc for everything (and the declarations of the package's entry), then one CommonJS
// bundle for sigil-token's Node shim, the hot path where there is no C compiler — a single file
// saves the module resolution and ESM loader start-up of ~10 files —, the optional native parts
// (scripts/build-native.mjs: sigil-token in C, and the shim's native client), the `sigil-token`
// bin (one or the other), and one ESM bundle for the TUI (dist/tui/tui.mjs).
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildNative, buildNativeToken, installTokenBin } from './build-native.mjs';

// No clean first: a failed compile must not leave other processes (tests) without a dist/.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
// Declarations only for the package's entry (src/index.ts) and what it reaches: the public
// client's types, not the agent's (~20 files instead of ~150 in the tarball).
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.lib.json'], { stdio: 'inherit' });
// No source maps (tsconfig.json): they would point at src/*.ts, which the package does not
// ship. Ones left by older builds go, so that npm pack cannot pick them up.
for (const name of readdirSync('dist', { recursive: true })) if (name.endsWith('.map')) rmSync(join('dist', name));
await build({
  entryPoints: ['src/bin/sigil-token.ts'],
  outfile: 'dist/bin/sigil-token.cjs',
  // util/peer-cred.ts reads import.meta only where there is no __dirname, i.e. never in here.
  logOverride: { 'empty-import-meta': 'silent' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
rmSync('dist/bin/sigil-token.js', { force: true });
buildNative();
buildNativeToken();
await installTokenBin();
// `sigil tui`: ink + react load in ~350 ms as separate ESM files, ~4× less as one file.
// ESM because yoga-layout (ink) uses top-level await. CommonJS dependencies (react) call
// require() for Node built-ins, which an ESM bundle has no `require` for: the banner makes one.
// react-devtools-core (and ws, for it) are imported by ink only under DEV=true: a stub.
await build({
  entryPoints: ['src/tui/run-tui.ts'],
  outfile: 'dist/tui/tui.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  alias: { 'react-devtools-core': './src/tui/devtools-stub.ts', ws: './src/tui/devtools-stub.ts' },
  // yoga-layout's wasm loader asks `typeof fetch` before reading its inline wasm: on Node 20
  // that getter loads undici (~20 ms of start-up) for nothing. Production React: no dev checks.
  define: { 'process.env.NODE_ENV': '"production"', fetch: 'undefined' },
  banner: { js: "import { createRequire as __sigilCreateRequire } from 'node:module'; const require = __sigilCreateRequire(import.meta.url);" },
  // Drops the branches `define` made dead (React's development builds: ~300 KiB less to parse);
  // names and whitespace stay, so stack traces stay readable.
  minifySyntax: true,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const bin of ['sigil.js', 'sigil-agent.js', 'sigil-token.cjs', 'git-credential-sigil.js']) chmodSync(`dist/bin/${bin}`, 0o755);
