import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Reads the audit log from its end, so the cost is the lines asked for, not the size of
 * the file: a 100k-line log answers as fast as a 10-line one.
 */
export interface AuditPage {
  entries: Record<string, unknown>[];
  /** Byte offset to pass as `after` to get only newer lines (follow mode). */
  cursor: number;
}

const CHUNK = 64 * 1024;
/** Follow mode never returns more than this per call: a client catching up pages on. */
const MAX_FOLLOW_LINES = 1000;

export function readAuditTail(path: string, opts: { limit?: number; after?: number } = {}): AuditPage {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], cursor: 0 };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (opts.after !== undefined) {
      // A cursor past the end means the log was rotated: start over in the new file.
      const from = opts.after <= size ? opts.after : 0;
      return readForward(fd, from, size);
    }
    return { entries: readBackward(fd, size, opts.limit ?? 50), cursor: size };
  } finally {
    closeSync(fd);
  }
}

function readForward(fd: number, from: number, size: number): AuditPage {
  const entries: Record<string, unknown>[] = [];
  let pos = from;
  let carry = '';
  while (pos < size && entries.length < MAX_FOLLOW_LINES) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    const text = carry + buf.toString('utf8', 0, n);
    const lines = text.split('\n');
    carry = lines.pop()!;
    pos += n;
    for (let i = 0; i < lines.length; i++) {
      if (entries.length >= MAX_FOLLOW_LINES) {
        // Stop after whole lines: put the rest back so the cursor lands on a line start.
        carry = lines.slice(i).join('\n') + '\n' + carry;
        break;
      }
      const e = parse(lines[i]!);
      if (e) entries.push(e);
    }
  }
  // Only whole lines were consumed: resume at the start of a partial last line.
  return { entries, cursor: pos - Buffer.byteLength(carry) };
}

function readBackward(fd: number, size: number, limit: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let pos = size;
  let tail = Buffer.alloc(0);
  while (pos > 0 && out.length < limit) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.allocUnsafe(len);
    readSync(fd, buf, 0, len, pos);
    tail = Buffer.concat([buf, tail]);
    // Keep the (possibly partial) first line for the next round unless at the file's start.
    const start = pos === 0 ? 0 : tail.indexOf(0x0a) + 1;
    if (pos > 0 && start === 0) continue;
    const lines = tail.toString('utf8', start).split('\n');
    const found: Record<string, unknown>[] = [];
    for (const line of lines) {
      const e = parse(line);
      if (e) found.push(e);
    }
    tail = tail.subarray(0, start);
    out.unshift(...found.slice(Math.max(0, found.length - (limit - out.length))));
  }
  return out;
}

function parse(line: string): Record<string, unknown> | null {
  if (!line) return null;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null; // a torn last line after a crash is skipped, not fatal
  }
}
