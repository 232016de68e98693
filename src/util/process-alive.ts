import { readFileSync } from 'node:fs';

/**
 * Whether a process still runs. kill(pid, 0) alone is not enough: an exited process stays
 * a zombie until its parent reaps it, and a daemon's parent is whatever adopted it (init,
 * a container's PID 1, which may reap only every few seconds). A zombie holds no socket,
 * no file and no lock any more: it counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but is someone else's — alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}
