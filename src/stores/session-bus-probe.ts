import { connect } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * Asks the session bus, without blocking, whether it is one: libdbus (inside
 * @napi-rs/keyring) connects synchronously, on the agent's only thread, and waits without a
 * time limit for a socket that accepts and never speaks D-Bus (a stale address, a hung
 * daemon) — every client of the agent would wait with it. So the agent first opens the
 * socket itself and sends the D-Bus greeting (a NUL byte, then AUTH EXTERNAL with its uid):
 * a bus answers a line at once ("OK …" or "REJECTED …"). Only unix: addresses are probed;
 * for others libdbus is left to it.
 */

/** A bus answers its greeting in well under a millisecond; a loaded desktop in far less than this. */
export const BUS_PROBE_TIMEOUT_MS = 3000;

const NOT_AVAILABLE = 'the OS keyring is not available: no D-Bus session';

/** The socket path of the first unix: address in a D-Bus address list, or null. */
export function unixSocketOf(address: string): string | null {
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (entry.slice(0, colon) !== 'unix') continue;
    const params = new Map(
      entry
        .slice(colon + 1)
        .split(',')
        .map((kv) => {
          const eq = kv.indexOf('=');
          return [kv.slice(0, eq), decodeValue(kv.slice(eq + 1))] as const;
        }),
    );
    const path = params.get('path');
    if (path) return path;
    const abstract = params.get('abstract');
    if (abstract) return `\0${abstract}`; // Linux abstract namespace, as node:net spells it
    return null;
  }
  return null;
}

/** D-Bus address values escape bytes as %XX. */
function decodeValue(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export function probeSessionBus(address: string, timeoutMs = BUS_PROBE_TIMEOUT_MS): Promise<void> {
  const path = unixSocketOf(address);
  if (path === null) return Promise.resolve();
  const where = `DBUS_SESSION_BUS_ADDRESS=${address}`;
  const fail = (why: string) => new SigilError(ErrorCode.INTERNAL, `${NOT_AVAILABLE} (${where} ${why})`);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let answer = '';
    const done = (err: SigilError | null) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(fail(`did not answer as a D-Bus bus within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`)), timeoutMs);
    let connected = false;
    sock.on('connect', () => {
      connected = true;
      const uid = typeof process.getuid === 'function' ? String(process.getuid()) : '0';
      sock.write(`\0AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`);
    });
    sock.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (!answer.includes('\n')) return;
      // OK, REJECTED (another mechanism wanted) and ERROR are all a bus talking.
      if (/^(OK|REJECTED|ERROR)\b/.test(answer)) done(null);
      else done(fail('answered something that is not D-Bus'));
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      done(
        connected
          ? fail('closed the connection without answering: not a D-Bus bus')
          : // The words libdbus's own failure maps to (keyring-access.ts), whichever sees it first.
            new SigilError(ErrorCode.INTERNAL, `${NOT_AVAILABLE} (cannot connect to ${where})`, { cause: err }),
      ),
    );
    sock.on('close', () => done(fail('closed the connection without answering: not a D-Bus bus')));
  });
}
