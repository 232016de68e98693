import { spawnSync } from 'node:child_process';
import { cpSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installTokenBin, nativeTokenFile, tokenBinFile, tokenBinKind } from '../../src/native/token-bin.js';
import { VERSION } from '../../src/version.js';
import { BIN, ROOT } from '../support/sandbox.js';
import { NATIVE_TOKEN } from '../support/token-programs.js';

/*
 * What dist/bin/sigil-token (the package's `sigil-token` bin) becomes: the C program where
 * it runs, else the launcher of the Node shim — chosen by the build, and by `postinstall`
 * on the machine the tarball is installed on (the tarball's own bin is the launcher).
 */
const version = (file: string) => spawnSync(file, ['--version'], { encoding: 'utf8' });
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

describe('the sigil-token bin', () => {
  let dir: string;
  let dist: string;
  beforeEach(() => {
    // A package as npm unpacks it: package.json (for "type": "module") and a dist/ with the shim.
    dir = mkdtempSync(join(tmpdir(), 'sigil-token-bin-'));
    dist = join(dir, 'dist');
    mkdirSync(join(dist, 'bin'), { recursive: true });
    mkdirSync(join(dist, 'native'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    copyFileSync(BIN.token, join(dist, 'bin/sigil-token.cjs'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('package.json names dist/bin/sigil-token as the bin, and postinstall chooses it again', () => {
    expect(pkg.bin['sigil-token']).toBe('dist/bin/sigil-token');
    expect(pkg.scripts.postinstall).toBe('[ ! -f dist/native/token-bin.js ] || node dist/native/token-bin.js');
    // In a checkout before the first build (npm ci), postinstall has nothing to do and succeeds.
    expect(spawnSync('sh', ['-c', pkg.scripts.postinstall!], { cwd: dir }).status).toBe(0);
  });

  it('without a native program that runs here: the launcher, which runs the shim', () => {
    expect(installTokenBin(dist, { native: true })).toBe('node');
    expect(tokenBinKind(dist)).toBe('node');
    writeFileSync(nativeTokenFile(dist), 'built for another machine', { mode: 0o755 });
    expect(installTokenBin(dist, { native: true })).toBe('node');
    expect(version(tokenBinFile(dist))).toMatchObject({ status: 0, stdout: `sigil-token ${VERSION}\n` });
  });

  it.runIf(existsSync(NATIVE_TOKEN))('with one: a copy of it; when packing (native: false), the launcher all the same', () => {
    copyFileSync(NATIVE_TOKEN, nativeTokenFile(dist));
    for (const f of ['native/token-bin.js', 'version.js']) copyFileSync(join(ROOT, 'dist', f), join(dist, f));
    expect(installTokenBin(dist, { native: false })).toBe('node');
    expect(readFileSync(tokenBinFile(dist), 'utf8')).toMatch(/^#!\/usr\/bin\/env -S node --\n/);
    // What postinstall does where the tarball lands: the native program, since it runs here.
    const post = spawnSync('sh', ['-c', pkg.scripts.postinstall!], { cwd: dir, encoding: 'utf8' });
    expect(post.status, post.stderr).toBe(0);
    expect(readFileSync(tokenBinFile(dist)).equals(readFileSync(NATIVE_TOKEN))).toBe(true);
    expect(tokenBinKind(dist)).toBe('native');
    expect(version(tokenBinFile(dist))).toMatchObject({ status: 0, stdout: `sigil-token ${VERSION}\n` });
  });
});

describe.runIf(existsSync(NATIVE_TOKEN))('npm pack, then an install elsewhere', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the tarball’s bin is the launcher and it carries the C program; postinstall where it lands makes that the bin', () => {
    // A copy of the checkout (npm pack builds in place, and must not rebuild dist/ under the other tests).
    dir = mkdtempSync(join(tmpdir(), 'sigil-pack-'));
    const checkout = join(dir, 'checkout');
    for (const f of ['src', 'scripts', 'man', 'units', 'package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE']) cpSync(join(ROOT, f), join(checkout, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: checkout, encoding: 'utf8', timeout: 240_000 });
    expect(pack.status, pack.stderr).toBe(0);
    const { filename } = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!;
    const unpacked = join(dir, 'installed');
    mkdirSync(unpacked);
    expect(spawnSync('tar', ['-xzf', join(dir, filename), '-C', unpacked, '--strip-components=1']).status).toBe(0);
    const dist = join(unpacked, 'dist');
    expect(tokenBinKind(dist)).toBe('node');
    expect(existsSync(nativeTokenFile(dist))).toBe(true);
    const post = spawnSync('sh', ['-c', pkg.scripts.postinstall!], { cwd: unpacked, encoding: 'utf8' });
    expect(post.status, post.stderr).toBe(0);
    expect(tokenBinKind(dist)).toBe('native');
    expect(version(tokenBinFile(dist))).toMatchObject({ status: 0, stdout: `sigil-token ${VERSION}\n` });
  }, 300_000);
});
