// The optional native client of sigil-token (src/native/sync_client.c), compiled with the
// system C compiler straight into dist/native/: one file, no node-gyp, no Python.
// Optional: without a compiler or Node's headers, sigil-token uses its portable client
// (node:net) and works the same, only ~3–4 ms slower per call.
//
//   node scripts/build-native.mjs           build (what scripts/build.mjs runs)
//   node scripts/build-native.mjs --probe   print {cc, include, output} as JSON (the tests
//                                           use it to insist on the addon where it can be built)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const SOURCE = 'src/native/sync_client.c';
// Platform and architecture in the name: dist/ is packed, and a .node from another machine
// must be skipped (the loader falls back), never loaded.
export const OUTPUT = `dist/native/sync-client-${process.platform}-${process.arch}.node`;

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
  return { cc: supported ? findCompiler() : null, include: supported ? findHeaders() : null, output: OUTPUT };
}

/** Builds the addon; returns false (having said why, in one line) when it cannot. */
export function buildNative() {
  const { cc, include } = probe();
  const fallback = (why) => {
    // A stale addon from an earlier build must not outlive a source it no longer matches.
    rmSync(OUTPUT, { force: true });
    console.log(`build: ${why}: sigil-token will use the portable client`);
    return false;
  };
  if (!cc) return fallback(`no C compiler (${process.env.CC || 'cc'}) for ${process.platform}`);
  if (!include) return fallback("no Node.js headers (node_api.h) found");
  mkdirSync(dirname(OUTPUT), { recursive: true });
  // Compiled beside the target and renamed over it: a test running sigil-token meanwhile
  // loads the old file or the new one, never half of one.
  const temp = `${OUTPUT}.${process.pid}.tmp`;
  const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-std=c11', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra', '-Werror', `-I${include}`, '-o', temp, SOURCE];
  // N-API symbols live in the node executable: Linux resolves them at load time by default,
  // macOS's linker must be told to leave them undefined.
  if (process.platform === 'darwin') args.splice(3, 0, '-undefined', 'dynamic_lookup');
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(temp, { force: true });
    process.stderr.write(r.stderr || r.error?.message || '');
    return fallback(`${cc} could not compile ${SOURCE}`);
  }
  renameSync(temp, OUTPUT);
  return true;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  if (process.argv.includes('--probe')) console.log(JSON.stringify(probe()));
  else buildNative();
}
