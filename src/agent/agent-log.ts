import { closeSync, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { terminalText } from '../util/terminal-text.js';
import { systemClock, type Clock } from './clock.js';

/**
 * The background agent's log, $XDG_STATE_HOME/sigilforge/agent.log: a daemonized agent has
 * no terminal, so the file is its stderr (fd 2), opened by the parent that starts it. What
 * goes in: the agent's start and stop, locks and unlocks, background refreshes, keyring and
 * notify_cmd trouble, internal errors — the lines `sigil-agent -d` prints, less the one per
 * connection. Never a secret: the agent logs names, pids and error messages, not values.
 *
 * Rotation copies the file to agent.log.1 and truncates it in place (logrotate's
 * copytruncate) instead of renaming it: fd 2 is also where Node itself writes a fatal error,
 * and JavaScript cannot reopen it, so the file is never moved away from under it. O_APPEND
 * makes every write land at the new end after the truncation.
 */

/** 1 MiB live, plus one older file: years of a quiet agent's events, bounded for a noisy one. */
export const AGENT_LOG_MAX_BYTES = 1024 * 1024;

/** For the parent: the log opened for appending (and reading, for rotation), private. */
export function openAgentLog(path: string): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a+', 0o600);
  fchmodSync(fd, 0o600); // an older file with looser modes is tightened
  return fd;
}

/** For the agent: writes timestamped lines to `fd` (its stderr), rotating past `maxBytes`. */
export function fileLogger(path: string, fd = 2, maxBytes = AGENT_LOG_MAX_BYTES, clock: Pick<Clock, 'now'> = systemClock): (line: string) => void {
  return (line) => {
    // Escaped: a message may quote a provider's error text, and `sigil logs` or `tail -f`
    // put the file on a terminal.
    const text = `${new Date(clock.now()).toISOString()} ${terminalText(line)}\n`;
    // A full disk, a removed state directory or an fd 2 that is not this file (a hand-started
    // --daemon-child) must not take the agent down, nor a failed rotation lose the line.
    try {
      rotateIfFull(path, fd, Buffer.byteLength(text), maxBytes);
    } catch {
      // the file only grows past the bound
    }
    try {
      writeSync(fd, text);
    } catch {
      // nowhere to log to
    }
  };
}

function rotateIfFull(path: string, fd: number, adding: number, maxBytes: number): void {
  const size = fstatSync(fd).size;
  if (size === 0 || size + adding <= maxBytes) return;
  // Read through the fd, not the path: that is the file this agent writes, even if someone
  // moved or removed agent.log meanwhile.
  const old = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, old, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  const out = openSync(`${path}.1`, 'w', 0o600);
  try {
    fchmodSync(out, 0o600);
    writeSync(out, old, 0, got);
  } finally {
    closeSync(out);
  }
  ftruncateSync(fd, 0);
}
