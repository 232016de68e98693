import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Reads the audit log from its end, so the cost is the lines asked for, not the size of
 * the file: a 100k-line log answers as fast as a 10-line one. Every answer is also capped
 * in bytes (it must fit one frame): a client wanting more lines than fit pages on, with
 * `before` (older lines) or `after` (newer ones).
 */
export interface AuditPage {
  entries: Record<string, unknown>[];
  /** Byte offset to pass as `after` to get only newer lines (follow mode). */
  cursor: number;
  /** Byte offset where the oldest entry returned starts: pass it as `before` for older lines; 0: none. */
  start: number;
}

const CHUNK = 64 * 1024;
/** Follow mode never returns more than this per call: a client catching up pages on. */
const MAX_FOLLOW_LINES = 1000;
/**
 * Log bytes per answer. A line's MessagePack form is smaller than its JSON (shorter keys, no
 * quotes or commas), so this keeps every answer well under the 1 MiB frame cap.
 */
const MAX_ANSWER_BYTES = 512 * 1024;
/** The agent writes lines of a few KiB at most (targets are cut to 200 characters): a longer one is not its own. */
const MAX_LINE_BYTES = 64 * 1024;

export interface AuditReadOptions {
  limit?: number;
  /** Only lines from this byte offset on (a `cursor`). */
  after?: number;
  /** Only lines that end before this byte offset (a `start`). */
  before?: number;
  /** Bytes of log per answer (tests make it small). */
  maxBytes?: number;
}

export function readAuditTail(path: string, opts: AuditReadOptions = {}): AuditPage {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], cursor: 0, start: 0 };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const maxBytes = opts.maxBytes ?? MAX_ANSWER_BYTES;
    if (opts.after !== undefined) {
      // A cursor past the end means the log was rotated: start over in the new file.
      const from = opts.after <= size ? opts.after : 0;
      return { ...readForward(fd, from, size, maxBytes), start: from };
    }
    const end = Math.min(opts.before ?? size, size);
    return { ...readBackward(fd, end, opts.limit ?? 50, maxBytes), cursor: size };
  } finally {
    closeSync(fd);
  }
}

function readForward(fd: number, from: number, size: number, maxBytes: number): { entries: Record<string, unknown>[]; cursor: number } {
  const entries: Record<string, unknown>[] = [];
  let pos = from;
  let carry = '';
  let bytes = 0;
  let full = false;
  while (pos < size && !full) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    const text = carry + buf.toString('utf8', 0, n);
    const lines = text.split('\n');
    carry = lines.pop()!;
    pos += n;
    for (let i = 0; i < lines.length; i++) {
      const lineBytes = Buffer.byteLength(lines[i]!) + 1;
      if (entries.length >= MAX_FOLLOW_LINES || (entries.length > 0 && bytes + lineBytes > maxBytes)) {
        // Stop after whole lines: put the rest back so the cursor lands on a line start.
        carry = lines.slice(i).join('\n') + '\n' + carry;
        full = true;
        break;
      }
      bytes += lineBytes;
      const e = lineBytes <= MAX_LINE_BYTES ? parse(lines[i]!) : null;
      if (e) entries.push(e);
    }
  }
  // Only whole lines were consumed: resume at the start of a partial last line.
  return { entries, cursor: pos - Buffer.byteLength(carry) };
}

/** The last `limit` entries of the lines ending before `end`, within maxBytes of log. */
function readBackward(fd: number, end: number, limit: number, maxBytes: number): { entries: Record<string, unknown>[]; start: number } {
  const found: Record<string, unknown>[] = [];
  let pos = end; // buf holds the file's bytes [pos, lineEnd)
  let buf = Buffer.alloc(0);
  let lineEnd = end; // the next line to take ends here (after its newline)
  let bytes = 0;
  while (lineEnd > 0 && found.length < limit) {
    // The newline that ends the previous line, searched before this line's own last byte.
    const from = lineEnd - pos - 2;
    const nl = from >= 0 ? buf.lastIndexOf(0x0a, from) : -1;
    if (nl < 0 && pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const chunk = Buffer.allocUnsafe(len);
      readSync(fd, chunk, 0, len, pos);
      buf = Buffer.concat([chunk, buf]);
      continue;
    }
    const lineStart = pos + nl + 1;
    const lineBytes = lineEnd - lineStart;
    if (found.length > 0 && bytes + lineBytes > maxBytes) break;
    bytes += lineBytes;
    if (lineBytes <= MAX_LINE_BYTES) {
      const e = parse(buf.toString('utf8', lineStart - pos, lineEnd - pos).replace(/\n$/, ''));
      if (e) found.push(e);
    }
    lineEnd = lineStart;
    buf = buf.subarray(0, lineEnd - pos);
  }
  return { entries: found.reverse(), start: lineEnd };
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
