// The throughput baseline: the least a Node server can do to answer get_token frames.
// A plain net server on a Unix socket that splits and decodes frames with the project's own
// codec (dist/protocol) and answers from a Map with the agent's result shape — no lock
// check, no audit, no vault. Run in its own process:
//   node bench/baseline-server.mjs SOCKET SERVICE ACCOUNT TOKEN
// It prints "ready <pid>" once it listens and serves until killed.
import { unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The measured build: run.mjs passes its snapshot of dist/ in SIGIL_BENCH_DIST.
const dist = process.env.SIGIL_BENCH_DIST || new URL('../dist', import.meta.url).pathname;
const { decodeBody, encodeFrame, FrameDecoder } = await import(pathToFileURL(join(dist, 'protocol/frame.js')).href);

const [socketPath, service, account, token] = process.argv.slice(2);
if (!token) {
  process.stderr.write('usage: baseline-server.mjs SOCKET SERVICE ACCOUNT TOKEN\n');
  process.exit(2);
}

const tokens = new Map([[`${service}/${account}`, { access_token: token, token_type: 'Bearer', expires_at: null }]]);

const server = createServer((socket) => {
  const decoder = new FrameDecoder();
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    let bodies;
    try {
      bodies = decoder.push(chunk);
    } catch (err) {
      socket.end(encodeFrame({ id: null, ok: false, error: { code: err.code ?? 'BAD_REQUEST', message: err.message } }));
      return;
    }
    for (const body of bodies) {
      let req;
      try {
        req = decodeBody(body);
      } catch (err) {
        socket.write(encodeFrame({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: err.message } }));
        continue;
      }
      const id = req?.id ?? null;
      let out;
      if (req?.op === 'get_token') {
        const t = tokens.get(`${req.args?.service}/${req.args?.account}`);
        out = t ? { id, ok: true, result: { ...t } } : { id, ok: false, error: { code: 'NOT_FOUND', message: 'no such account' } };
      } else if (req?.op === 'hello') {
        out = { id, ok: true, result: { version: 1, agent: 'baseline', pid: process.pid } };
      } else {
        out = { id, ok: false, error: { code: 'UNKNOWN_OP', message: 'unknown operation' } };
      }
      socket.write(encodeFrame(out));
    }
  });
});

try {
  unlinkSync(socketPath);
} catch {
  // not there
}
server.listen(socketPath, () => process.stdout.write(`ready ${process.pid}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    try {
      unlinkSync(socketPath);
    } catch {
      // gone
    }
    process.exit(0);
  });
}
