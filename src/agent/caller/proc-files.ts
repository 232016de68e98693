import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';

// Reading what /proc says of a caller's processes: identify.ts and forwarded.ts share these.

/**
 * One buffer for every /proc read: open, read, close into it costs a third of readFileSync's
 * time on these files (whose size reads as 0, so readFileSync stats and reads in rounds).
 */
const buf = Buffer.allocUnsafe(64 * 1024);

/** The first bytes of a /proc file (up to `max`), or null when it cannot be read. */
export function readProc(path: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    let n = 0;
    for (let got = -1; got !== 0 && n < max; n += got) got = readSync(fd, buf, n, max - n, null);
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** argv, NUL-separated; the interpreter's options and script come first, so 64 KiB is plenty. */
export function readCmdline(pid: number): string[] {
  const bytes = readProc(`/proc/${pid}/cmdline`, buf.length);
  if (!bytes || bytes.length === 0) return [];
  const argv = bytes.toString('utf8').split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  return argv;
}

export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
