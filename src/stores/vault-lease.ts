import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { isAlive } from '../util/process-alive.js';

/**
 * One unlocked agent per vault. Each agent keeps the whole vault in memory and writes it
 * back whole, so two unlocked agents would silently undo each other's writes — including
 * a rotated refresh token, which logs the account out. The lease is a file created with
 * O_EXCL at unlock and removed at lock; a lease whose holder is gone is taken over.
 * `sigil --direct` holds it too, for its one command (its agent lives in the sigil process).
 */
export interface LeaseOwner {
  pid: number;
  socket: string;
  /** A `sigil --direct` command, not a sigil-agent. */
  direct?: boolean;
}

export class VaultLease {
  private held = false;

  constructor(
    readonly path: string,
    private readonly owner: LeaseOwner,
  ) {}

  acquire(): void {
    if (this.held) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o600);
        try {
          writeSync(fd, JSON.stringify(this.owner) + '\n');
        } catch (err) {
          // A full disk: no empty lease left behind for the next attempt to puzzle over.
          unlinkSync(this.path);
          throw err;
        } finally {
          closeSync(fd);
        }
        this.held = true;
        return;
      } catch (err) {
        // No data directory means no vault: let the open report that, clearly.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SigilError(ErrorCode.INTERNAL, `cannot create ${this.path}: ${(err as Error).message}`);
        }
      }
      const holder = readHolder(this.path);
      if (holder && holder.pid !== this.owner.pid && isHolderAlive(holder)) {
        if (holder.direct) throw new SigilError(ErrorCode.ALREADY_EXISTS, `the vault is in use by sigil --direct (pid ${holder.pid}) for one command; try again when it has finished`);
        throw new SigilError(
          ErrorCode.ALREADY_EXISTS,
          `the vault is unlocked by another agent (pid ${holder.pid}, socket ${holder.socket}); use it (export SIGIL_AUTH_SOCK=${holder.socket}) or lock it first`,
        );
      }
      // Stale (its agent died without locking) or ours from before: take it over.
      try {
        unlinkSync(this.path);
      } catch {
        // Someone else removed it first; try again.
      }
    }
    throw new SigilError(ErrorCode.INTERNAL, `cannot take the vault lease ${this.path}`);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      const holder = readHolder(this.path);
      if (holder?.pid === this.owner.pid) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

function readHolder(path: string): LeaseOwner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; socket?: unknown; direct?: unknown };
    return typeof v.pid === 'number' ? { pid: v.pid, socket: String(v.socket ?? '?'), ...(v.direct === true ? { direct: true } : {}) } : null;
  } catch {
    return null;
  }
}

/** Alive and still a sigil-agent (or a sigil --direct): a recycled pid running something else does not count. */
function isHolderAlive(holder: LeaseOwner): boolean {
  if (!isAlive(holder.pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').split('\0');
    return holder.direct ? cmdline.includes('--direct') : cmdline.some((arg) => arg.includes('sigil-agent'));
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}
