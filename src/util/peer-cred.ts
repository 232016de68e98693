import { createRequire } from 'node:module';
import { readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';

/**
 * Who is on the other end of a Unix socket, in both directions: the agent asks it of each
 * client, and each client asks it of the agent before sending anything. Node has no API
 * for it, so on Linux we call getsockopt(SO_PEERCRED) through koffi (FFI with prebuilt
 * binaries, no install script): the kernel records the credentials at connect() time (for a
 * client) or listen() time (for the agent), so they cannot be forged. Other platforms get
 * `null` and fall back to file modes; this is documented in sigil-agent(1).
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

type GetSockOpt = (fd: number, level: number, name: number, out: Buffer, len: number[]) => number;
let getsockopt: GetSockOpt | null | undefined;

function load(): GetSockOpt | null {
  if (getsockopt !== undefined) return getsockopt;
  getsockopt = null;
  if (process.platform !== 'linux') return null;
  try {
    // The sigil-token bundle is CommonJS (it has a require, and no import.meta); the rest is ESM.
    const load = typeof require === 'function' ? require : createRequire(import.meta.url);
    const koffi = load('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)') as GetSockOpt;
  } catch {
    getsockopt = null;
  }
  return getsockopt;
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
  const out = Buffer.alloc(UCRED_SIZE);
  const len = [UCRED_SIZE];
  if (fn(fd, SOL_SOCKET, SO_PEERCRED, out, len) !== 0) return null;
  const cred: PeerCred = { pid: out.readInt32LE(0), uid: out.readUInt32LE(4), gid: out.readUInt32LE(8) };
  if (opts.exe === false) return cred;
  try {
    cred.exe = readlinkSync(`/proc/${cred.pid}/exe`);
  } catch {
    // Another uid's process, or it already exited: the pid and uid still stand.
  }
  return cred;
}
