// The optional native parts of sigil-token, compiled with the system C compiler straight into
// dist/native/: one command per file, no node-gyp, no Python. Both are optional: without a
// compiler (or, for the addon, Node's headers) the build says so in one line and goes on.
//
//   - dist/native/sigil-token-<platform>-<arch>: sigil-token itself in C (src/native/sigil_token.c),
//     which src/native/token-bin.ts installs as the `sigil-token` bin where it runs. Needs cc only.
//   - dist/native/sync-client-<platform>-<arch>.node: the Node-API addon the Node shim
//     (dist/bin/sigil-token.cjs) talks to the agent through, ~3–4 ms faster than node:net.
//     Needs cc and node_api.h. Also used by the CLI for SO_PEERCRED.
//
//   node scripts/build-native.mjs           build (what scripts/build.mjs runs)
//   node scripts/build-native.mjs --probe   print {cc, include, output, token} as JSON (the tests
//                                           use it to insist on what can be built here)
//   node scripts/build-native.mjs --sanitized FILE
//                                           sigil-token in C with AddressSanitizer and UBSan, to
//                                           FILE (test/fuzz/token-answers.test.ts runs it)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

// agent_io.c, the socket side, is shared by both: one connect, one peer check, one frame reader.
const SOURCES = ['src/native/sync_client.c', 'src/native/agent_io.c'];
const TOKEN_SOURCES = ['src/native/sigil_token.c', 'src/native/agent_io.c', 'src/native/msgpack.c', 'src/native/text.c'];
const WARNINGS = ['-std=c11', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra', '-Werror'];
// Platform and architecture in the name: dist/ is packed, and a .node from another machine
// must be skipped (the loader falls back), never loaded.
export const OUTPUT = `dist/native/sync-client-${process.platform}-${process.arch}.node`;
export const TOKEN_OUTPUT = `dist/native/sigil-token-${process.platform}-${process.arch}`;

/** Node's own headers first (the official tarballs, nvm, NodeSource), then distro places. */
function findHeaders() {
  const prefix = process.config.variables?.node_prefix;
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    prefix && join(prefix, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, 'node_api.h'))) ?? null;
}

function findCompiler() {
  const cc = process.env.CC || 'cc';
  return spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0 ? cc : null;
}

export function probe() {
  // Unix sockets and dlopen()-time symbol lookup: Linux and macOS only.
  const supported = process.platform === 'linux' || process.platform === 'darwin';
  return { cc: supported ? findCompiler() : null, include: supported ? findHeaders() : null, output: OUTPUT, token: TOKEN_OUTPUT };
}

/**
 * Compiles `sources` to `output` with `args`; false (having said why, in one line) when it
 * cannot. Compiled beside the target and renamed over it: a test running sigil-token meanwhile
 * loads or runs the old file or the new one, never half of one.
 */
function compile(cc, sources, output, args, what) {
  mkdirSync(dirname(output), { recursive: true });
  const temp = `${output}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...args, '-o', temp, ...sources], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(temp, { force: true });
    process.stderr.write(r.stderr || r.error?.message || '');
    return skipped(output, `${cc} could not compile ${sources[0]}`, what);
  }
  renameSync(temp, output);
  return true;
}

function skipped(output, why, what) {
  // A stale file from an earlier build must not outlive a source it no longer matches.
  rmSync(output, { force: true });
  console.log(`build: ${why}: ${what}`);
  return false;
}

/** Builds the addon; returns false (having said why, in one line) when it cannot. */
export function buildNative() {
  const { cc, include } = probe();
  const what = 'the Node shim of sigil-token will use its portable client';
  if (!cc) return skipped(OUTPUT, `no C compiler (${process.env.CC || 'cc'}) for ${process.platform}`, what);
  if (!include) return skipped(OUTPUT, 'no Node.js headers (node_api.h) found', what);
  const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', ...WARNINGS, `-I${include}`];
  // N-API symbols live in the node executable: Linux resolves them at load time by default,
  // macOS's linker must be told to leave them undefined.
  if (process.platform === 'darwin') args.splice(3, 0, '-undefined', 'dynamic_lookup');
  return compile(cc, SOURCES, OUTPUT, args, what);
}

/** Builds the native sigil-token; false (having said why) when it cannot: the bin is then the Node shim. */
export function buildNativeToken(output = TOKEN_OUTPUT, extra = []) {
  const { cc } = probe();
  const what = 'sigil-token will be the Node shim';
  if (!cc) return skipped(output, `no C compiler (${process.env.CC || 'cc'}) for ${process.platform}`, what);
  // The version it prints is package.json's (test/version.test.ts keeps src/version.ts equal to it).
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  if (!/^[\w.+-]+$/.test(version)) throw new Error(`build: odd package version ${JSON.stringify(version)}`);
  const args = ['-O2', '-fstack-protector-strong', '-D_FORTIFY_SOURCE=2', ...WARNINGS, `-DSIGIL_VERSION="${version}"`];
  // A position-independent executable (macOS makes one anyway, and its clang would warn, under -Werror, about -pie).
  if (process.platform === 'linux') args.push('-fPIE', '-pie');
  return compile(cc, TOKEN_SOURCES, output, [...args, ...extra], what);
}

/**
 * dist/bin/sigil-token, the bin (src/native/token-bin.ts, compiled by tsc first): the native
 * program where it runs, else the Node shim's launcher — always the launcher when packing, so
 * that the tarball's bin runs anywhere and `postinstall` chooses on the machine it lands on.
 */
export async function installTokenBin() {
  const { installTokenBin: install } = await import(new URL('../dist/native/token-bin.js', import.meta.url).href);
  const kind = install('dist', { native: process.env.npm_lifecycle_event !== 'prepack' });
  if (kind === 'node') console.log('build: dist/bin/sigil-token is the Node shim');
  return kind;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const sanitized = process.argv.indexOf('--sanitized');
  if (process.argv.includes('--probe')) console.log(JSON.stringify(probe()));
  else if (sanitized > 0) {
    const ok = buildNativeToken(process.argv[sanitized + 1], ['-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer']);
    process.exitCode = ok ? 0 : 1;
  } else {
    buildNative();
    buildNativeToken();
    await installTokenBin();
  }
}
