import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { sigilPaths } from '../../util/paths.js';
import { terminalText } from '../../util/terminal-text.js';

/**
 * `sigil logs`: the background agent's log (src/agent/agent-log.ts), read from the file, so
 * that it also tells why an agent that is no longer running stopped. The older file
 * (agent.log.1) is read too when the live one holds fewer than -n lines.
 */

/** How often --follow looks for new lines: quick enough to feel live, next to nothing to do. */
const FOLLOW_POLL_MS = 250;

export async function logs(opts: { lines?: string; follow?: boolean }): Promise<void> {
  const limit = opts.lines === undefined ? 20 : Number(opts.lines);
  if (!Number.isInteger(limit) || limit < 1) throw new SigilError(ErrorCode.BAD_REQUEST, '-n must be a positive integer');
  const path = sigilPaths().agentLog;
  const current = read(path);
  if (current === null && !opts.follow) {
    throw new SigilError(ErrorCode.NOT_FOUND, `no agent log at ${path}: a background agent (eval "$(sigil-agent)") writes one; -D and -d log to stderr`);
  }
  let text = current?.text ?? '';
  if (lineCount(text) < limit) text = (read(`${path}.1`)?.text ?? '') + text;
  show(lastLines(text, limit));
  if (!opts.follow) return;

  let offset = current?.size ?? 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    const size = sizeOf(path);
    if (size === null || size === offset) continue;
    if (size < offset) {
      // Rotated: agent.log was copied to agent.log.1 and emptied. What came after our last
      // read is at the same offsets in the copy.
      show(read(`${path}.1`, offset)?.text ?? '');
      offset = 0;
    }
    const next = read(path, offset);
    if (!next) continue;
    show(next.text);
    offset = next.size;
  }
}

/** The file from `from` on, and the size it had when read; null when it is not there. */
function read(path: string, from = 0): { text: string; size: number } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= from) return { text: '', size };
    const buf = Buffer.alloc(size - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    // Up to the last whole line: the rest is read next time round, once it is written.
    const end = buf.lastIndexOf(0x0a, got - 1) + 1;
    return { text: buf.subarray(0, end).toString('utf8'), size: from + end };
  } finally {
    closeSync(fd);
  }
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n').slice(0, -1); // whole lines only: the text ends with "\n"
  return lines.slice(-n).map((l) => l + '\n').join('');
}

/** The agent escapes what it writes; lines Node itself wrote there (a crash) are escaped here. */
function show(text: string): void {
  if (text) process.stdout.write(terminalText(text, { lines: true }));
}
