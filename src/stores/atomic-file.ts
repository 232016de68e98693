/**
 * Crash-safe file replacement: after a crash at any instant the target holds either
 * its old content or the new content, whole — never a mix, never empty.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isAlive } from '../util/process-alive.js';

const DIR_MODE = 0o700; // private to the owner, as ~/.ssh and ~/.gnupg are
const TEMP_SUFFIX_BYTES = 6; // random part of the temp name: unique across concurrent writers

/**
 * Writes `data` to `path` atomically: temp file in the same directory (same filesystem,
 * so rename is atomic), fsync, rename over the target, fsync the directory so the
 * rename itself survives a power cut. The parent directory is created 0700 if missing.
 * `mode` is applied exactly (not filtered by the umask).
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(TEMP_SUFFIX_BYTES).toString('hex')}.tmp`);

  // 'wx': never follow or reuse something already at the temp name.
  const fh = await open(temp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
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
