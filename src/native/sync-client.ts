import { join } from 'node:path';

/**
 * The optional native client (sync_client.c, built by scripts/build-native.mjs): one
 * blocking connect-write-read on the calling thread. Only sigil-token uses it: a process
 * with nothing else to do, for which node:net and an event-loop turn are the slow part.
 */
export interface SyncClient {
  /** Sends `request`, returns the bodies of the next `frames` frames (see sync_client.c). */
  exchange(socketPath: string, request: Buffer, frames: number, timeoutMs: number, connectTimeoutMs: number, maxFrame: number, agentUid: number): Buffer[];
  /** SO_PEERCRED of a connected Unix socket (Linux builds only); throws with an errno code. */
  peerCred?(fd: number): { pid: number; uid: number; gid: number };
}

/** What `exchange` throws. */
export interface ExchangeError extends Error {
  /**
   * An errno name (ENOENT…), EOF, BAD_REQUEST / FRAME_TOO_LARGE for a bad length, or
   * EPEERUID: the socket's listener runs as another uid (nothing was sent).
   */
  code: string;
  /** The step that failed: socket, connect and getsockopt mean nothing was sent. */
  syscall: 'socket' | 'connect' | 'getsockopt' | 'write' | 'read' | 'poll';
  peerUid?: number;
  peerPid?: number;
  errno?: number;
  frameLength?: number;
  /** Bodies that arrived whole before the failure. */
  frames?: Buffer[];
}

/** Platform and architecture in the name: a .node packed on another machine is never loaded. */
export function syncClientFile(dir: string): string {
  return join(dir, `sync-client-${process.platform}-${process.arch}.node`);
}

/**
 * null when there is none that loads (not built: no compiler at build time; another
 * platform's; a broken file): the caller uses the portable client, and says nothing.
 * process.dlopen rather than require(): no module resolution, no cache entry.
 */
export function loadSyncClient(file: string): SyncClient | null {
  try {
    const module = { exports: {} as Partial<SyncClient> };
    process.dlopen(module, file);
    return typeof module.exports.exchange === 'function' ? (module.exports as SyncClient) : null;
  } catch {
    return null;
  }
}
