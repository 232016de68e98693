/**
 * A real full disk for tests: a small tmpfs mounted on a directory (needs root, as the test
 * machine runs), filled to the last block by a filler file. Tests that need it skip with the
 * reason where mounting is not possible.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface Tmpfs {
  readonly dir: string;
  /** Fills every free block (a file "filler" at the top); returns its size. */
  fill(): number;
  /** Frees what fill() took. */
  drain(): void;
  unmount(): void;
}

/** Why a tmpfs cannot be mounted here, or null when it can. */
export function tmpfsSkipReason(): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts are a Linux test';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return null;
}

/** Mounts a tmpfs of `sizeKiB` on `dir` (created if missing). */
export function mountTmpfs(dir: string, sizeKiB: number): Tmpfs {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot mount a tmpfs on ${dir}: ${r.stderr || r.error?.message}`);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const block = Buffer.alloc(4096, 0x5a);
      let written = 0;
      try {
        for (;;) written += writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      return written;
    },
    drain() {
      rmSync(filler, { force: true });
    },
    unmount() {
      spawnSync('umount', ['-l', dir]);
    },
  };
}
