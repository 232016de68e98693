import { readFileSync } from 'node:fs';
import type { ConnectionHandle } from './connection.js';

/**
 * The cap on open connections (file descriptors are finite). At the cap a new connection
 * does not get refused — that would let 1024 idle connections lock every other client out —
 * instead the connection idle the longest makes room. One that is being answered (a flow,
 * a TUI's long poll for confirm questions, a refresh) is never chosen; only when every
 * connection is busy is the newcomer turned away.
 */
export const MAX_CONNECTIONS = 1024;
/** Descriptors kept for everything else: the vault, the audit log, the keyring's D-Bus, OAuth. */
const SPARE_FDS = 64;

/**
 * The cap for this process: MAX_CONNECTIONS, or fewer where the open-files limit is lower
 * (macOS defaults to 256). Past the limit accept() fails with EMFILE and libuv closes every
 * newcomer, which is the lock-out the cap exists to prevent.
 */
export function connectionCap(limitsFile = '/proc/self/limits'): number {
  let soft: number | null = null;
  try {
    const line = readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const value = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (value === 'unlimited') soft = Infinity;
    else if (value && /^\d+$/.test(value)) soft = Number(value);
  } catch {
    // Not Linux: assume the smallest common default.
  }
  return Math.max(16, Math.min(MAX_CONNECTIONS, (soft ?? 256) - SPARE_FDS));
}

export class ConnectionPool {
  private readonly open = new Set<ConnectionHandle>();

  constructor(readonly max = connectionCap()) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Makes room for one more connection if the pool is full; returns the handle closed to
   * make it, or null when there was room, or false when none could be closed.
   */
  makeRoom(): ConnectionHandle | null | false {
    if (this.open.size < this.max) return null;
    let idlest: ConnectionHandle | null = null;
    for (const c of this.open) {
      if (!c.busy && (idlest === null || c.lastActive < idlest.lastActive)) idlest = c;
    }
    if (!idlest) return false;
    this.open.delete(idlest);
    idlest.close();
    return idlest;
  }

  add(c: ConnectionHandle): void {
    this.open.add(c);
  }

  delete(c: ConnectionHandle): void {
    this.open.delete(c);
  }

  closeAll(): void {
    for (const c of this.open) c.close();
    this.open.clear();
  }
}
