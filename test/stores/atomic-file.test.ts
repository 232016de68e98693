import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepStaleTemps, writeFileAtomic } from '../../src/stores/atomic-file.js';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing parents 0700 and the file 0600', async () => {
    const target = join(dir, 'a', 'b', 'file');
    await writeFileAtomic(target, Buffer.from('one'));
    expect(readFileSync(target, 'utf8')).toBe('one');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o700);
  });

  it('replaces an existing file and applies the mode whatever the umask or old mode', async () => {
    const target = join(dir, 'file');
    writeFileSync(target, 'old', { mode: 0o644 });
    // Worker threads cannot change the umask; under the default forks pool they can.
    const old = isMainThread ? process.umask(0o077) : null;
    try {
      await writeFileAtomic(target, Buffer.from('new'), 0o640);
    } finally {
      if (old !== null) process.umask(old);
    }
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('leaves the target alone and removes its temp file when the write fails', async () => {
    const target = join(dir, 'taken');
    mkdirSync(target); // rename(file, directory) fails
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, Buffer.from('data'))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['inside']);
  });

  it('serves concurrent writers with unique temp names: the result is one of the inputs, whole', async () => {
    const target = join(dir, 'file');
    const inputs = Array.from({ length: 20 }, (_, i) => Buffer.alloc(4096, i));
    await Promise.all(inputs.map((b) => writeFileAtomic(target, b)));
    const result = readFileSync(target);
    expect(inputs.some((b) => b.equals(result))).toBe(true);
    expect(readdirSync(dir)).toEqual(['file']);
  });
});

describe('sweepStaleTemps', () => {
  it('removes temp files of dead writers and keeps those of live ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-sweep-'));
    try {
      // A pid that surely exited: a child we ran to completion.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      writeFileSync(join(dir, `.vault.age.${dead}.abc.tmp`), 'x');
      writeFileSync(join(dir, `.vault.age.${process.pid}.def.tmp`), 'x');
      writeFileSync(join(dir, `.vault.age.1.ghi.tmp`), 'x'); // pid 1 is alive
      writeFileSync(join(dir, 'vault.age'), 'x');
      expect(await sweepStaleTemps(join(dir, 'vault.age'))).toBe(1);
      expect(readdirSync(dir).sort()).toEqual([`.vault.age.${process.pid}.def.tmp`, '.vault.age.1.ghi.tmp', 'vault.age'].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
