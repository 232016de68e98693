/**
 * Crash-safe file replacement: after a crash at any instant the target holds either
 * its old content or the new content, whole — never a mix, never empty.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

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
