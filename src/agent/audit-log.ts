import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync, type PathLike } from 'node:fs';
import { dirname } from 'node:path';
import type { PeerCred } from './peer-cred.js';

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
  peer?: PeerCred | null;
  client?: string;
}

export interface AuditOptions {
  /** Rotate when the file passes this size: audit.log → audit.log.1 → … */
  maxBytes?: number;
  /** Rotated files kept besides the live one. */
  keep?: number;
  now?: () => Date;
}

const FLUSH_MS = 100; // latency bound on losing entries vs. syscalls per request
const FLUSH_BYTES = 64 * 1024; // write at once past this, whatever the timer says
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_KEEP = 3;

export class AuditLog {
  private fd: number | null = null;
  private size = 0;
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly now: () => Date;

  constructor(
    readonly path: string,
    opts: AuditOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.keep = opts.keep ?? DEFAULT_KEEP;
    this.now = opts.now ?? (() => new Date());
  }

  record(event: AuditEvent): void {
    const entry: Record<string, unknown> = { time: this.now().toISOString(), op: event.op };
    if (event.target !== undefined) entry.target = event.target;
    entry.result = event.result;
    if (event.client !== undefined) entry.client = event.client;
    if (event.peer) {
      entry.pid = event.peer.pid;
      entry.uid = event.peer.uid;
      if (event.peer.exe !== undefined) entry.exe = event.peer.exe;
    }
    const line = JSON.stringify(entry) + '\n';
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is buffered. Synchronous so it can run from exit and signal handlers. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.lines.length === 0) return;
    const data = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    try {
      const fd = this.open();
      writeSync(fd, data);
      this.size += Buffer.byteLength(data);
      if (this.size >= this.maxBytes) this.rotate();
    } catch (err) {
      // An unwritable audit log must not take the agent down; say so where the operator looks.
      process.emitWarning(`sigil-agent: cannot write the audit log ${this.path}: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
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
