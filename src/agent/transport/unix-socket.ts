import { createServer, type Server } from 'node:net';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { encodeFrame } from '../../protocol/frame.js';
import { peerCred } from '../../util/peer-cred.js';
import type { AuditLog } from '../audit-log.js';
import { forwardedFrom } from '../caller/forwarded.js';
import { lazyCaller } from '../caller/identify.js';
import type { Sessions } from './sessions.js';

/**
 * The first transport: the agent's Unix socket. The kernel says who connected (SO_PEERCRED):
 * another uid is refused; for our own, the connection becomes a session whose caller is read
 * from /proc (caller/identify.ts) when a request first needs it. Listening (the private directory, the socket's
 * mode) is socket-setup.ts's.
 */
export interface UnixSocketOptions {
  audit: AuditLog;
  log(msg: string): void;
}

export function unixSocketServer(sessions: Sessions, opts: UnixSocketOptions): Server {
  const myUid = typeof process.getuid === 'function' ? process.getuid() : null;
  return createServer((socket) => {
    sessions.accept(socket);
    const peer = peerCred(socket);
    if (peer && myUid !== null && peer.uid !== myUid) {
      // Defence in depth behind the 0700 directory: e.g. a root-owned agent and a process
      // that got past the file modes some other way. Its /proc is not read.
      opts.audit.record({ op: 'connect', result: ErrorCode.FORBIDDEN, caller: { peer, chain: [] } });
      opts.log(`refused a connection from uid ${peer.uid} (pid ${peer.pid})`);
      socket.end(encodeFrame({ id: null, ok: false, error: new SigilError(ErrorCode.FORBIDDEN, 'connections from another user are refused').toWire() }));
      setTimeout(() => socket.destroy(), 1000).unref(); // a peer that never closes its side
      return;
    }
    const caller = lazyCaller(peer);
    // The user's own ssh client relaying `ssh -R`: whoever it relays is on another machine.
    // Known at once (one /proc read, for ssh peers only), as policy needs it before anything else.
    const forwarded = peer ? forwardedFrom(peer.pid, peer.exe) : undefined;
    if (forwarded) caller.forwarded = forwarded;
    sessions.open(socket, caller);
  });
}
