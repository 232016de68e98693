import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * Makes the socket's directory private: created 0700, or if it exists, checked to be a real
 * directory (not a symlink someone planted in /tmp) owned by us, and tightened to 0700.
 */
export function prepareSocketDir(dir: string, own: boolean): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SigilError(ErrorCode.INTERNAL, `cannot create the socket directory ${dir}: ${(err as Error).message}`);
  }
  if (!own) return; // a directory named by -a is the person's choice; only the socket is ours
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) throw new SigilError(ErrorCode.INTERNAL, `${dir} is not a directory; refusing to put the agent socket there`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new SigilError(ErrorCode.FORBIDDEN, `${dir} belongs to uid ${st.uid}, not to you; refusing to put the agent socket there`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export type SocketProbe = 'absent' | 'live' | 'stale';

/**
 * Whether something accepts connections at `path` (a live agent) or the file is left over.
 * `ino` identifies the file that was probed, so a stale one can be removed without
 * removing a socket another starting agent has bound there since (see removeSocket).
 */
export function probeSocket(path: string): Promise<{ state: SocketProbe; ino: number | null }> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return Promise.resolve({ state: 'absent', ino: null });
  }
  if (!st.isSocket()) {
    return Promise.reject(new SigilError(ErrorCode.ALREADY_EXISTS, `${path} exists and is not a socket; refusing to replace it`));
  }
  const ino = st.ino;
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve({ state: 'live', ino });
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      // Only "nobody listens" makes a socket file stale; EACCES and the like are not ours to remove.
      if (err.code === 'ECONNREFUSED') resolve({ state: 'stale', ino });
      else if (err.code === 'ENOENT') resolve({ state: 'absent', ino: null });
      else reject(new SigilError(ErrorCode.INTERNAL, `cannot tell whether an agent answers on ${path}: ${err.message}`));
    });
  });
}

/**
 * Binds the socket 0600 from the first instant: the umask is narrowed around bind(), so
 * there is no window in which another user could connect before a chmod.
 */
export function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const old = process.umask(0o177);
    const onError = (err: NodeJS.ErrnoException) => {
      process.umask(old);
      reject(
        err.code === 'EADDRINUSE'
          ? new SigilError(ErrorCode.ALREADY_EXISTS, `another agent is listening on ${path}`)
          : new SigilError(ErrorCode.INTERNAL, `cannot listen on ${path}: ${err.message}`),
      );
    };
    server.once('error', onError);
    server.listen(path, () => {
      process.umask(old);
      server.off('error', onError);
      resolve();
    });
  });
}

export function removeSocket(path: string, ino: number | null): void {
  try {
    // Only our own socket: a newer agent may have replaced it since.
    if (ino !== null && lstatSync(path).ino !== ino) return;
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
