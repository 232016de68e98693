import { readFileSync, realpathSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { peerCred } from '../util/peer-cred.js';
import type { Endpoint } from './agent-endpoint.js';

/**
 * Whoever listens on the socket path is not necessarily our agent: with XDG_RUNTIME_DIR
 * unset the socket lives under /tmp, where another user can create the directory first and
 * listen in it, and SIGIL_AUTH_SOCK or -a can name any path. A passphrase, a secret or a
 * token request goes only to a process of our own uid — checked on the connected socket,
 * before the first byte is written, by every transport (this for node:net, check_peer() in
 * sync_client.c for sigil-token's native client).
 */

/** The uid the agent must run as; undefined where there are no uids (Windows). */
export function ownUid(): number | undefined {
  return process.geteuid?.();
}

/** Throws FORBIDDEN, having sent nothing, unless the agent on `socket` runs as us. */
export function checkAgentPeer(where: Endpoint, socket: Socket): void {
  const me = ownUid();
  if (me === undefined) return;
  const cred = peerCred(socket, { exe: false });
  if (cred) {
    if (cred.uid !== me) throw foreignAgent(where, cred.uid, cred.pid, me);
    return;
  }
  checkSocketFiles(where, me);
}

/**
 * Without peer credentials (no koffi on this platform): the socket and the directory it is
 * in must be ours and writable by nobody else, so that no other user can have put a
 * listener there or can swap it for one.
 */
function checkSocketFiles(where: Endpoint, me: number): void {
  let real: string;
  try {
    real = realpathSync(where.path);
  } catch {
    return; // gone since connect(): the first request fails on its own
  }
  for (const [what, path] of [['socket', real], ['directory', dirname(real)]] as const) {
    const st = statSync(path);
    if (st.uid !== me) throw foreignAgent(where, st.uid, undefined, me, `its ${what} ${path}`);
    if ((st.mode & 0o022) !== 0) {
      throw new SigilError(ErrorCode.FORBIDDEN, `refusing the agent at ${shown(where)}: its ${what} ${path} is writable by others; nothing was sent`);
    }
  }
}

/** The socket's listener (or, without peer credentials, its file) belongs to someone else. */
export function foreignAgent(where: Endpoint, uid: number, pid: number | undefined, me = ownUid(), whose = 'it'): SigilError {
  const ids = pid !== undefined && pid > 0 ? `uid ${uid}, pid ${pid}` : `uid ${uid}`;
  const name = userName(uid);
  const mine = me === undefined ? 'you' : `you (${userName(me) ? `${userName(me)}, ` : ''}uid ${me})`;
  const verb = whose === 'it' ? 'runs as' : 'belongs to';
  return new SigilError(
    ErrorCode.FORBIDDEN,
    `refusing the agent at ${shown(where)}: ${whose} ${verb} ${name ? `${name} (${ids})` : ids}, not ${whose === 'it' ? 'as ' : 'to '}${mine}; nothing was sent`,
  );
}

function shown({ path, fromEnv }: Endpoint): string {
  return fromEnv ? `SIGIL_AUTH_SOCK=${path}` : path;
}

/** The user's name from /etc/passwd, if any: only ever read on this error path. */
function userName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid && /^[\w.-]{1,32}$/.test(name)) return name;
    }
  } catch {
    // No passwd file (a container, macOS): the number alone.
  }
  return undefined;
}
