import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * The one-shot loopback server that receives the authorization redirect (RFC 8252 §7.3).
 * It listens on 127.0.0.1 on an ephemeral port (or the provider's redirect_port), accepts exactly one redirect carrying the
 * expected `state`, and closes. Anything else — other paths, a wrong or missing state, a
 * missing code, other methods, oversized requests — gets an error page and the server keeps
 * waiting for the real redirect, so a stray or hostile request cannot end or hijack the flow.
 */
export interface CallbackServer {
  /** http://127.0.0.1:PORT/callback, to send as redirect_uri. */
  redirectUri: string;
  /** The full redirect URL once the browser came back with the right state. */
  result: Promise<URL>;
  close(): void;
}

/** Enough for any real redirect (codes are short); bigger requests are junk. */
const MAX_HEADER_BYTES = 8 * 1024;
/** A client that opens a connection and says nothing is dropped after this long. */
const REQUEST_TIMEOUT_MS = 10_000;

export function startCallbackServer(expectedState: string, port = 0): Promise<CallbackServer> {
  let settle!: (url: URL) => void;
  const result = new Promise<URL>((resolve) => (settle = resolve));
  let done = false;

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    handle(req, res);
  });
  server.maxConnections = 32;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed or oversized requests: answer if the socket still takes it, never throw.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  const page = (res: ServerResponse, status: number, title: string, text: string) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      connection: 'close',
    });
    res.end(`<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${title}</h1><p>${text}</p></body>`);
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // a body, if any, is never read
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      return page(res, 400, 'Bad request', 'This address is not understood.');
    }
    if (url.pathname !== '/callback') return page(res, 404, 'Not found', 'Sigilforge is waiting for a sign-in redirect here, nothing else.');
    if (req.method !== 'GET') return page(res, 405, 'Method not allowed', 'Only the sign-in redirect is accepted.');
    if (done) return page(res, 410, 'Already used', 'This sign-in has already been completed; you can close this tab.');
    if (url.searchParams.get('state') !== expectedState) {
      return page(res, 400, 'Wrong sign-in', 'This redirect does not belong to the sign-in Sigilforge started (state mismatch). Start again with sigil accounts add.');
    }
    const error = url.searchParams.get('error');
    if (!url.searchParams.get('code') && !error) return page(res, 400, 'Missing code', 'The provider sent no authorization code.');
    done = true;
    if (error) page(res, 200, 'Sign-in failed', `The provider answered: ${escapeHtml(error)}. You can close this tab.`);
    else page(res, 200, 'Signed in', 'Sigilforge has your authorization. You can close this tab and return to the terminal.');
    settle(new URL(url.pathname + url.search, redirectBase));
    setImmediate(close);
  }

  let redirectBase = '';
  const close = () => {
    server.close();
    server.closeAllConnections();
  };

  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      reject(new SigilError(ErrorCode.BAD_REQUEST, `the sign-in redirect's port ${port} (redirect_port) is in use by another program on 127.0.0.1`, { field: 'redirect_port', cause: err }));
    });
    server.listen(port, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      redirectBase = `http://127.0.0.1:${port}`;
      resolve({ redirectUri: `${redirectBase}/callback`, result, close });
    });
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
