import { close, closeSync, fstat, mkdir, open, rename, write } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { chainPrograms, type Caller } from './caller/caller.js';
import { systemClock, type Clock } from './clock.js';

/**
 * The audit log: one JSON line per secret-bearing op, lock/unlock, failed unlock and refused
 * connection. It records who did what to which target and how it ended — never a value;
 * entries are built from a fixed set of fields so a secret cannot slip in through a spread.
 *
 * Lines are buffered and written in batches so auditing does not cap throughput; a batch
 * is written at most FLUSH_MS after its first line, and at once on lock, on exit and before
 * the log is read. A crash can therefore lose at most FLUSH_MS of entries. The batch is bytes
 * from the start (each line copied in from cached pieces), and every file operation, rotation
 * included, runs on libuv's thread pool: the event loop that answers clients never waits for
 * the disk and never re-encodes a batch.
 */
export interface AuditEvent {
  op: string;
  target?: string;
  /** "ok", or the error code that ended the op. */
  result: string;
  /** Who asked (one per connection): its pid, uid and exe, and its chain of programs. */
  caller?: Caller | null;
  client?: string;
}

export interface AuditOptions {
  /** Rotate when the file passes this size: audit.log → audit.log.1 → … */
  maxBytes?: number;
  /** Rotated files kept besides the live one. */
  keep?: number;
  /** The agent's clock: the time of each line. */
  clock?: Pick<Clock, 'now'>;
}

const FLUSH_MS = 100; // latency bound on losing entries vs. syscalls per request
const FLUSH_BYTES = 64 * 1024; // write at once past this, whatever the timer says
const fsOpen = promisify(open);
const fsFstat = promisify(fstat);
const fsClose = promisify(close);
const fsRename = promisify(rename);
const fsMkdir = promisify(mkdir);
const fsWrite = promisify(write);
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_KEEP = 3;
const NO_CALLER = {};
/** Distinct (op, target, result) line ends kept per connection. */
const MAX_CACHED_LINES = 64;

/** The client and caller fields of a line. */
function callerPart(caller: Caller | null | undefined, client: string | undefined): string {
  let part = '';
  if (client !== undefined) part += `,"client":${JSON.stringify(client)}`;
  if (caller?.forwarded) part += `,"forwarded":${JSON.stringify(caller.forwarded.host)}`;
  const peer = caller?.peer;
  if (peer) {
    part += `,"pid":${peer.pid},"uid":${peer.uid}`;
    if (peer.exe !== undefined) part += `,"exe":${JSON.stringify(peer.exe)}`;
  }
  // The programs (paths; Sigilforge's clients by name), peer first: who ran the client.
  const chain = caller ? chainPrograms(caller) : [];
  if (chain.length > 0) part += `,"chain":${JSON.stringify(chain)}`;
  return part;
}

/** One caller's (and client name's) line ends. */
interface CallerLines {
  part: string;
  lines: Map<string, Buffer>;
  last: { op: string; target: string | undefined; result: string; rest: Buffer } | null;
}

export class AuditLog {
  private fd: number | null = null;
  private size = 0;
  /** The batch being filled: `used` bytes of `batch`. */
  private batch = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly clock: Pick<Clock, 'now'>;
  private lastMs = -1;
  /** `{"time":"…"` for lastMs, as bytes. */
  private lastStart: Buffer = Buffer.alloc(0);
  /** Per caller (one per connection) and client name: the ends of the lines it writes, as bytes. */
  private readonly callerParts = new WeakMap<object, Map<string, CallerLines>>();

  constructor(
    readonly path: string,
    opts: AuditOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.keep = opts.keep ?? DEFAULT_KEEP;
    this.clock = opts.clock ?? systemClock;
  }

  /** `at`: the time of the line, when the caller has read the clock already (ms, the clock's). */
  record(event: AuditEvent, at = this.clock.now()): void {
    // Hot path (one line per get_token): the start of the line is reused within a millisecond
    // and the rest is built once per connection and (op, target, result): a script asking for
    // one token in a loop writes the same line but for the time.
    const start = this.lineStart(at);
    const rest = this.restOfLine(event);
    const n = start.length + rest.length;
    if (this.used + n > this.batch.length) {
      void this.flush();
      if (n > this.batch.length) this.batch = Buffer.allocUnsafe(n);
    }
    this.batch.set(start, this.used);
    this.batch.set(rest, this.used + start.length);
    this.used += n;
    if (this.used >= FLUSH_BYTES) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  private lineStart(ms: number): Buffer {
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastStart = Buffer.from(`{"time":"${new Date(ms).toISOString()}"`, 'latin1');
    }
    return this.lastStart;
  }

  private restOfLine(event: AuditEvent): Buffer {
    const cacheable = event.caller ?? NO_CALLER;
    let byClient = this.callerParts.get(cacheable);
    if (!byClient) this.callerParts.set(cacheable, (byClient = new Map()));
    const clientKey = event.client ?? '';
    let who = byClient.get(clientKey);
    if (!who) byClient.set(clientKey, (who = { part: callerPart(event.caller, event.client), lines: new Map(), last: null }));
    // The line this connection wrote last, by comparing three strings: cheaper than making a key.
    const last = who.last;
    if (last && last.op === event.op && last.target === event.target && last.result === event.result) return last.rest;
    const key = `${event.op}\n${event.target ?? '\0'}\n${event.result}`;
    let rest = who.lines.get(key);
    if (rest === undefined) {
      let text = `,"op":${JSON.stringify(event.op)}`;
      if (event.target !== undefined) text += `,"target":${JSON.stringify(event.target)}`;
      text += `,"result":${JSON.stringify(event.result)}${who.part}}\n`;
      rest = Buffer.from(text, 'utf8');
      // A connection that touches many targets must not grow this without bound.
      if (who.lines.size >= MAX_CACHED_LINES) who.lines.clear();
      who.lines.set(key, rest);
    }
    who.last = { op: event.op, target: event.target, result: event.result, rest };
    return rest;
  }

  /**
   * Writes what is buffered. The write(2) runs on libuv's thread pool, not on the event loop
   * that answers clients; writes are chained, so lines reach the file in the order recorded.
   * Resolves once everything recorded so far has been written.
   */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.used > 0) {
      // A new batch: the one handed to write(2) is not touched again.
      const data = this.batch.subarray(0, this.used);
      this.batch = Buffer.allocUnsafe(FLUSH_BYTES);
      this.used = 0;
      this.writing = this.writing.then(() => this.writeOut(data));
    }
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private async writeOut(data: Buffer): Promise<void> {
    try {
      const fd = await this.open();
      for (let off = 0; off < data.length; ) off += (await fsWrite(fd, data, off, data.length - off, null)).bytesWritten;
      this.size += data.length;
      if (this.size >= this.maxBytes) await this.rotate();
    } catch (err) {
      // An unwritable audit log must not take the agent down; say so where the operator looks.
      process.emitWarning(`sigil-agent: cannot write the audit log ${this.path}: ${(err as Error).message}`);
    }
  }

  private async open(): Promise<number> {
    if (this.fd !== null) return this.fd;
    await fsMkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const fd = await fsOpen(this.path, 'a', 0o600);
    this.size = (await fsFstat(fd)).size;
    this.fd = fd;
    return fd;
  }

  private async rotate(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await fsClose(fd);
    for (let i = this.keep - 1; i >= 1; i--) await tryRename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    if (this.keep > 0) await tryRename(this.path, `${this.path}.1`);
    this.size = 0;
  }
}

async function tryRename(from: string, to: string): Promise<void> {
  try {
    await fsRename(from, to);
  } catch {
    // Missing older generations are normal.
  }
}
