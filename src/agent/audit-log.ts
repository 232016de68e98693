import { closeSync, fstatSync, mkdirSync, openSync, renameSync, write, type PathLike } from 'node:fs';
import { dirname } from 'node:path';
import { chainPrograms, type Caller } from './caller/caller.js';
import { systemClock, type Clock } from './clock.js';

/**
 * The audit log: one JSON line per secret-bearing op, lock/unlock, failed unlock and refused
 * connection. It records who did what to which target and how it ended — never a value;
 * entries are built from a fixed set of fields so a secret cannot slip in through a spread.
 *
 * Lines are buffered and written in batches so auditing does not cap throughput; a batch
 * is written at most FLUSH_MS after its first line, and at once on lock, on exit and before
 * the log is read. A crash can therefore lose at most FLUSH_MS of entries.
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

export class AuditLog {
  private fd: number | null = null;
  private size = 0;
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly clock: Pick<Clock, 'now'>;
  private lastMs = -1;
  private lastIso = '';
  /** Per caller (one per connection) and client name: the ends of the lines it writes. */
  private readonly callerParts = new WeakMap<object, Map<string, { part: string; lines: Map<string, string> }>>();

  constructor(
    readonly path: string,
    opts: AuditOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.keep = opts.keep ?? DEFAULT_KEEP;
    this.clock = opts.clock ?? systemClock;
  }

  record(event: AuditEvent): void {
    // Hot path (one line per get_token): the time string is reused within a millisecond and
    // the rest of the line is built once per connection and (op, target, result): a script
    // asking for one token in a loop writes the same line but for the time.
    const line = `{"time":"${this.timestamp()}"${this.restOfLine(event)}`;
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  private timestamp(): string {
    const ms = this.clock.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }

  private restOfLine(event: AuditEvent): string {
    const cacheable = event.caller ?? NO_CALLER;
    let byClient = this.callerParts.get(cacheable);
    if (!byClient) this.callerParts.set(cacheable, (byClient = new Map()));
    const clientKey = event.client ?? '';
    let who = byClient.get(clientKey);
    if (!who) byClient.set(clientKey, (who = { part: callerPart(event.caller, event.client), lines: new Map() }));
    const key = `${event.op}\n${event.target ?? '\0'}\n${event.result}`;
    let rest = who.lines.get(key);
    if (rest === undefined) {
      rest = `,"op":${JSON.stringify(event.op)}`;
      if (event.target !== undefined) rest += `,"target":${JSON.stringify(event.target)}`;
      rest += `,"result":${JSON.stringify(event.result)}${who.part}}\n`;
      // A connection that touches many targets must not grow this without bound.
      if (who.lines.size >= MAX_CACHED_LINES) who.lines.clear();
      who.lines.set(key, rest);
    }
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
    if (this.lines.length > 0) {
      const data = this.lines.join('');
      this.lines = [];
      this.bytes = 0;
      this.writing = this.writing.then(() => this.writeOut(data));
    }
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private async writeOut(data: string): Promise<void> {
    try {
      const fd = this.open();
      await new Promise<void>((resolve, reject) => write(fd, data, null, 'utf8', (err) => (err ? reject(err) : resolve())));
      this.size += Buffer.byteLength(data);
      if (this.size >= this.maxBytes) this.rotate();
    } catch (err) {
      // An unwritable audit log must not take the agent down; say so where the operator looks.
      process.emitWarning(`sigil-agent: cannot write the audit log ${this.path}: ${(err as Error).message}`);
    }
  }

  private open(): number {
    if (this.fd !== null) return this.fd;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
    return this.fd;
  }

  private rotate(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    for (let i = this.keep - 1; i >= 1; i--) tryRename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    if (this.keep > 0) tryRename(this.path, `${this.path}.1`);
    this.size = 0;
  }
}

function tryRename(from: PathLike, to: PathLike): void {
  try {
    renameSync(from, to);
  } catch {
    // Missing older generations are normal.
  }
}
