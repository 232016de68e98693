import { readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSyncClient, syncClientFile } from '../native/sync-client.js';
import { koffiLibc } from './koffi-libc.js';
import type { Socket } from 'node:net';

/**
 * Who is on the other end of a Unix socket, in both directions: the agent asks it of each
 * client, and each client asks it of the agent before sending anything. Node has no API
 * for it, so on Linux we call getsockopt(SO_PEERCRED) through sigil-token's native addon
 * where it was built, else koffi (FFI with prebuilt binaries, no install script). The
 * kernel records the credentials at connect() time (for a client) or listen() time (for
 * the agent), so they cannot be forged. Other platforms get `null` and fall back to file
 * modes; this is documented in sigil-agent(1).
 */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
  /** /proc/PID/exe, when readable. */
  exe?: string;
}

// Linux values for every architecture Node ships on (asm-generic/socket.h).
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const UCRED_SIZE = 12; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }

type Ucred = { pid: number; uid: number; gid: number };
type PeerOf = (fd: number) => Ucred | null;
type GetSockOpt = (fd: number, level: number, name: number, out: Buffer, len: number[]) => number;
let peerOf: PeerOf | null | undefined;

/**
 * sigil-token's native addon when it was built (a process.dlopen, well under a millisecond),
 * else koffi (~15 ms to load: every `sigil` command would pay it), else nothing.
 */
function load(): PeerOf | null {
  if (peerOf !== undefined) return peerOf;
  peerOf = null;
  if (process.platform !== 'linux') return null;
  const native = loadSyncClient(syncClientFile(nativeDir()))?.peerCred;
  if (native) {
    return (peerOf = (fd) => {
      try {
        return native(fd);
      } catch {
        return null;
      }
    });
  }
  let getsockopt: GetSockOpt;
  try {
    const libc = koffiLibc();
    if (!libc) return null;
    getsockopt = libc.lib.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)') as GetSockOpt;
  } catch {
    return null;
  }
  peerOf = (fd) => {
    const out = Buffer.alloc(UCRED_SIZE);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, [UCRED_SIZE]) !== 0) return null;
    return { pid: out.readInt32LE(0), uid: out.readUInt32LE(4), gid: out.readUInt32LE(8) };
  };
  return peerOf;
}

/** dist/native, from dist/util (ESM) or dist/bin (the CommonJS sigil-token bundle). */
function nativeDir(): string {
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  return join(here, '..', 'native');
}

/** Whether this platform can tell peers apart (for `status` and the docs). */
export function peerCredSupported(): boolean {
  return load() !== null;
}

/** `exe: false`: the uid and pid are all the caller needs (a client checking its agent). */
export function peerCred(socket: Socket, opts: { exe?: boolean } = {}): PeerCred | null {
  const fn = load();
  // `_handle.fd` is undocumented but stable since Node 0.x; it is -1 on Windows pipes.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!fn || typeof fd !== 'number' || fd < 0) return null;
  const ucred = fn(fd);
  if (!ucred) return null;
  const cred: PeerCred = { pid: ucred.pid, uid: ucred.uid, gid: ucred.gid };
  if (opts.exe === false) return cred;
  try {
    cred.exe = readlinkSync(`/proc/${cred.pid}/exe`);
  } catch {
    // Another uid's process, or it already exited: the pid and uid still stand.
  }
  return cred;
}
