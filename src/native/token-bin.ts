import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, openSync, readSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';

/**
 * What the `sigil-token` bin (dist/bin/sigil-token, package.json "bin") is: the native C
 * program (src/native/sigil_token.c, built to dist/native/sigil-token-PLATFORM-ARCH) where
 * that file runs on this machine, else a launcher of the Node shim (dist/bin/sigil-token.cjs).
 * Both print the same bytes and exit the same way; the native one starts in ~1 ms, not ~20.
 *
 * Chosen by the build, and again by `postinstall` wherever the package is installed: a
 * binary packed on one machine must not be the bin on another (another architecture, or a
 * libc it was not linked for). The tarball's bin is the launcher (built at prepack), so an
 * install that runs no scripts still gets a working sigil-token, on Node.
 */

/** The native executable's name: platform and architecture in it, as the addon's. */
export function nativeTokenFile(distDir: string): string {
  return join(distDir, 'native', `sigil-token-${process.platform}-${process.arch}`);
}

export function tokenBinFile(distDir: string): string {
  return join(distDir, 'bin', 'sigil-token');
}

// Extensionless, under "type": "module": Node loads it as ESM, so it requires the CommonJS shim.
const LAUNCHER = `#!/usr/bin/env -S node --
// sigil-token on Node: the native build (dist/native) does not run on this machine, or was not built.
import { createRequire } from 'node:module';
createRequire(import.meta.url)('./sigil-token.cjs');
`;

/** True when `file` is the native sigil-token of this version and runs here. */
export function nativeTokenRuns(file: string): boolean {
  if (!existsSync(file)) return false;
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000, env: {} });
  return r.status === 0 && r.stdout === `sigil-token ${VERSION}\n`;
}

export type TokenBinKind = 'native' | 'node';

/**
 * Writes dist/bin/sigil-token: a copy of the native program if `native` allows it and it
 * runs, else the launcher. Written beside and renamed over: a sigil-token running meanwhile
 * is the old file or the new one, never half of one.
 */
export function installTokenBin(distDir: string, opts: { native: boolean }): TokenBinKind {
  const bin = tokenBinFile(distDir);
  const temp = `${bin}.${process.pid}.tmp`;
  const native = nativeTokenFile(distDir);
  const kind: TokenBinKind = opts.native && nativeTokenRuns(native) ? 'native' : 'node';
  try {
    if (kind === 'native') copyFileSync(native, temp);
    else writeFileSync(temp, LAUNCHER);
    chmodSync(temp, 0o755);
    renameSync(temp, bin);
  } finally {
    rmSync(temp, { force: true });
  }
  return kind;
}

/** Which one dist/bin/sigil-token is (for `sigil status`): an executable file format, or the launcher. */
export function tokenBinKind(distDir: string): TokenBinKind | null {
  let fd: number;
  try {
    fd = openSync(tokenBinFile(distDir), 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(2);
    readSync(fd, head, 0, 2, 0);
    return head.toString('latin1') === '#!' ? 'node' : 'native';
  } finally {
    closeSync(fd);
  }
}

// `postinstall`: choose again on the machine the package was installed on.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dist = join(dirname(fileURLToPath(import.meta.url)), '..');
  installTokenBin(dist, { native: true });
}
