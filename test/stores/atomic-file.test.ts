import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileOps, reservePath, sweepStaleTemps, writeFileAtomic, type FileOps } from '../../src/stores/atomic-file.js';
import { mountTmpfs, tmpfsSkipReason, type Tmpfs } from '../support/tmpfs.js';

const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });
const TMPFS_SKIP = tmpfsSkipReason();
if (TMPFS_SKIP) console.warn(`atomic-file.test.ts: full-disk tests skipped: ${TMPFS_SKIP}`);

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

describe('writeFileAtomic when the write fails', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['ENOSPC while writing the temp file', { writeNew: () => Promise.reject(errno('ENOSPC')) }],
    ['EIO from the rename', { rename: () => Promise.reject(errno('EIO')) }],
    ['EIO from the directory fsync after the rename', { syncDir: () => Promise.reject(errno('EIO')) }],
  ] as Array<[string, Partial<FileOps>]>)('leaves exactly the old content and no temp file: %s', async (_what, failing) => {
    const target = join(dir, 'file');
    await writeFileAtomic(target, Buffer.from('old content'));
    const ops: FileOps = { ...nodeFileOps, ...failing };
    await expect(writeFileAtomic(target, Buffer.from('new content'), 0o600, { ops })).rejects.toThrow(/simulated/);
    expect(readFileSync(target, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('leaves no file when there was none and the directory fsync fails', async () => {
    const target = join(dir, 'new');
    const ops: FileOps = { ...nodeFileOps, syncDir: () => Promise.reject(errno('EIO')) };
    await expect(writeFileAtomic(target, Buffer.from('data'), 0o600, { ops })).rejects.toThrow(/simulated/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe.skipIf(TMPFS_SKIP)('writeFileAtomic on a full disk (a real tmpfs)', () => {
  let disk: Tmpfs;
  beforeEach(() => {
    disk = mountTmpfs(mkdtempSync(join(tmpdir(), 'sigil-full-')), 512);
  });
  afterEach(() => {
    disk.unmount();
    rmSync(disk.dir, { recursive: true, force: true });
  });

  it('a temp file and rename cannot shrink a file on a full disk without a reserve (why the reserve exists)', async () => {
    const target = join(disk.dir, 'plain');
    await writeFileAtomic(target, Buffer.alloc(20_000, 1));
    disk.fill();
    const err = await writeFileAtomic(target, Buffer.alloc(100, 2)).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readFileSync(target).equals(Buffer.alloc(20_000, 1))).toBe(true);
  });

  it('deleting still works on a full disk: a shrinking write spends the reserve, then takes it back', async () => {
    const target = join(disk.dir, 'vault');
    await writeFileAtomic(target, Buffer.alloc(20_000, 1), 0o600, { reserve: true });
    expect(statSync(reservePath(target)).size).toBe(32 * 1024); // the file's size, in 16 KiB steps
    disk.fill();

    // Growing is refused (the disk is full), and changes nothing.
    const grow = await writeFileAtomic(target, Buffer.alloc(30_000, 3), 0o600, { reserve: true }).catch((e: NodeJS.ErrnoException) => e);
    expect((grow as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readFileSync(target).equals(Buffer.alloc(20_000, 1))).toBe(true);

    // Shrinking works, again and again: each time the reserve comes back from the freed blocks.
    for (const [size, byte] of [[15_000, 4], [15_000, 5], [9_000, 6], [100, 7]] as const) {
      await writeFileAtomic(target, Buffer.alloc(size, byte), 0o600, { reserve: true });
      expect(readFileSync(target).equals(Buffer.alloc(size, byte))).toBe(true);
      expect(statSync(reservePath(target)).size).toBeGreaterThanOrEqual(Math.max(size, 16 * 1024)); // room for any smaller version
    }
    expect(readdirSync(disk.dir).sort()).toEqual(['.vault.reserve', 'filler', 'vault']);
  });

  it('a rotated token a few bytes longer is still saved on a full disk, while the reserve is whole', async () => {
    const target = join(disk.dir, 'vault');
    await writeFileAtomic(target, Buffer.alloc(4000, 1), 0o600, { reserve: true });
    disk.fill();
    await writeFileAtomic(target, Buffer.alloc(4003, 2), 0o600, { reserve: true }); // same last block
    expect(readFileSync(target).equals(Buffer.alloc(4003, 2))).toBe(true);
    expect(statSync(reservePath(target)).size).toBe(16 * 1024);
    // Growth that needs a block more is taken from the reserve once; then only shrinking may spend it.
    await writeFileAtomic(target, Buffer.alloc(4200, 3), 0o600, { reserve: true });
    expect(readFileSync(target).equals(Buffer.alloc(4200, 3))).toBe(true);
    const once = await writeFileAtomic(target, Buffer.alloc(4300, 4), 0o600, { reserve: true }).catch((e: NodeJS.ErrnoException) => e);
    expect((once as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readFileSync(target).equals(Buffer.alloc(4200, 3))).toBe(true);
    await writeFileAtomic(target, Buffer.alloc(100, 5), 0o600, { reserve: true });
    expect(readFileSync(target).equals(Buffer.alloc(100, 5))).toBe(true);
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
