/**
 * Crash-safe file replacement: after a crash at any instant the target holds either
 * its old content or the new content, whole — never a mix, never empty. A write that
 * fails (ENOSPC, EIO, any error) leaves the target as it was.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isAlive } from '../util/process-alive.js';

const DIR_MODE = 0o700; // private to the owner, as ~/.ssh and ~/.gnupg are
const TEMP_SUFFIX_BYTES = 6; // random part of the temp name: unique across concurrent writers
/**
 * A reserved file's reserve grows in steps of this much: at least the file's own size, so
 * any smaller version of it fits, and re-grown rarely (the vault and accounts.toml are a few
 * KiB). Small, because ~/.config is often a dotfiles repository.
 */
const RESERVE_STEP = 16 * 1024;
/**
 * A write that grows the file by at most this much may spend a whole reserve too: a rotated
 * token is rarely exactly as long as the one it replaces (JWTs vary by a few bytes), and
 * the account must stay signed in on a full disk. Such growth mostly fits the file's last
 * block; what does not is taken from the reserve once, after which only shrinking writes
 * may spend what is left.
 */
const GROWTH_SLACK = 1024;

/**
 * The file operations a write needs: Node's, or a test's that fail on cue (ENOSPC, EIO)
 * without patching any module.
 */
export interface FileOps {
  mkdir(dir: string, mode: number): Promise<void>;
  /** Creates `path` (never one that exists), writes `data`, fsyncs it and closes it. */
  writeNew(path: string, data: Uint8Array, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, name: string): Promise<void>;
  unlink(path: string): Promise<void>;
  syncDir(dir: string): Promise<void>;
  /** The size of `path` in bytes; null when there is no such file. */
  size(path: string): Promise<number | null>;
  /** Appends zeros to `path` (created 0600 if missing) until it holds `size` bytes. */
  extend(path: string, size: number): Promise<void>;
}

export const nodeFileOps: FileOps = {
  mkdir: async (dir, mode) => {
    await mkdir(dir, { recursive: true, mode });
  },
  writeNew: async (path, data, mode) => {
    // 'wx': never follow or reuse something already at the name.
    const fh = await open(path, 'wx', mode);
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename: (from, to) => rename(from, to),
  link: (existing, name) => link(existing, name),
  unlink: (path) => unlink(path),
  syncDir: async (dir) => {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  },
  size: async (path) => {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  extend: async (path, size) => {
    const fh = await open(path, 'a', 0o600);
    try {
      let have = (await fh.stat()).size;
      // Written zeros, not a hole: the blocks must really be taken to be given back later.
      // A short write means the disk filled up: the next one says ENOSPC (what was written stays).
      const zeros = size > have ? Buffer.alloc(size - have) : Buffer.alloc(0);
      while (have < size) {
        const { bytesWritten } = await fh.write(zeros, 0, size - have, have);
        if (bytesWritten === 0) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
        have += bytesWritten;
      }
    } finally {
      await fh.close();
    }
  },
};

export interface AtomicWriteOptions {
  /**
   * Keep a space reserve beside the file (`.NAME.reserve`, zeros), so that a write that does
   * not make the file bigger — deleting an entry — still works on a full disk: see
   * {@link writeFileAtomic}.
   */
  reserve?: boolean;
  ops?: FileOps;
}

/**
 * Writes `data` to `path` atomically: temp file in the same directory (same filesystem,
 * so rename is atomic), fsync, rename over the target, fsync the directory so the
 * rename itself survives a power cut. The parent directory is created 0700 if missing.
 * `mode` is applied exactly (not filtered by the umask).
 *
 * With `reserve`: a temp file needs free blocks before the old file gives its own back, so
 * on a full disk even a smaller file cannot replace a bigger one. So a reserve of at least
 * the file's size is kept beside it; a write that grows the file first grows the reserve
 * (and fails with ENOSPC when it cannot: the disk is full for growing, not for shrinking); a
 * write that does not grow it (or grows it by at most GROWTH_SLACK while the reserve is
 * whole) and meets ENOSPC gives the reserve back and tries once more, then takes the
 * reserve again from the blocks the old file freed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600, opts: AtomicWriteOptions = {}): Promise<void> {
  const ops = opts.ops ?? nodeFileOps;
  if (!opts.reserve) return replaceFile(ops, path, data, mode);
  const reserve = reservePath(path);
  const old = await ops.size(path);
  const growth = old === null ? Infinity : data.length - old;
  const mayGrow = growth <= GROWTH_SLACK && ((await ops.size(reserve)) ?? 0) >= reserveSize(data.length);
  if (growth > 0 && !mayGrow) {
    await ops.mkdir(dirname(path), DIR_MODE);
    await ops.extend(reserve, reserveSize(data.length));
    return replaceFile(ops, path, data, mode);
  }
  try {
    await replaceFile(ops, path, data, mode);
  } catch (err) {
    if (!isNoSpace(err) || (await ops.size(reserve).catch(() => null)) === null) throw err;
    await ops.unlink(reserve);
    await replaceFile(ops, path, data, mode);
  }
  // Best effort: taken again from what the old file freed (or made for a file that had none).
  await ops.extend(reserve, reserveSize(data.length)).catch(() => undefined);
}

/** The reserve kept beside `path` (see {@link writeFileAtomic}). */
export function reservePath(path: string): string {
  return join(dirname(path), `.${basename(path)}.reserve`);
}

function reserveSize(n: number): number {
  return Math.max(1, Math.ceil(n / RESERVE_STEP)) * RESERVE_STEP;
}

function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

async function replaceFile(ops: FileOps, path: string, data: Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  await ops.mkdir(dir, DIR_MODE);
  const tempName = () => join(dir, `.${basename(path)}.${process.pid}.${randomBytes(TEMP_SUFFIX_BYTES).toString('hex')}.tmp`);
  const temp = tempName();
  // The old content under a second name until the rename is durable (a hard link: no
  // blocks, works on a full disk). A temp name too, so a crash leaves it to the sweep.
  const backup = tempName();
  try {
    await ops.writeNew(temp, data, mode);
  } catch (err) {
    await ops.unlink(temp).catch(() => undefined);
    throw err;
  }
  const kept = await ops.link(path, backup).then(
    () => true,
    () => false, // no old file (or no hard links here): nothing to put back
  );
  try {
    await ops.rename(temp, path);
  } catch (err) {
    await ops.unlink(temp).catch(() => undefined);
    if (kept) await ops.unlink(backup).catch(() => undefined);
    throw err;
  }
  try {
    await ops.syncDir(dir);
  } catch (err) {
    // The new content is in place, but its rename may not survive a power cut: put the old
    // content back, so that a write reported as failed changed nothing.
    await (kept ? ops.rename(backup, path) : ops.unlink(path)).catch(() => undefined);
    throw err;
  }
  if (kept) await ops.unlink(backup).catch(() => undefined);
}

/**
 * Removes temp files that writeFileAtomic left behind when its process was killed
 * mid-write (they hold only ciphertext, but they pile up). A temp file of a live process
 * is left alone: that writer may still rename it.
 */
export async function sweepStaleTemps(path: string): Promise<number> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}
