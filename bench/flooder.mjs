// A client that pipelines get_token as fast as the socket takes it and never reads an answer
// (issue: answers made at once bypassed the agent's bound and grew it to 1.5 GiB).
//   node bench/flooder.mjs SOCKET SERVICE ACCOUNT DURATION_MS
// Prints one JSON line at the end: how many requests the kernel took, and whether the agent
// ever stopped taking them (it must: that is the bound at work).
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = process.env.SIGIL_BENCH_DIST || new URL('../dist', import.meta.url).pathname;
const { encodeFrame } = await import(pathToFileURL(join(dist, 'protocol/frame.js')).href);
const [socketPath, service, account, durationMs] = process.argv.slice(2);

const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeFrame({ v: 1, id: i + 1, op: 'get_token', args: { service, account } })));
const sock = connect(socketPath);
sock.on('error', () => {});
sock.pause(); // never read
let written = 0;
let stalls = 0;
const end = Date.now() + Number(durationMs);
await new Promise((r) => sock.once('connect', r));
while (Date.now() < end) {
  written += 1000;
  if (!sock.write(batch)) {
    const drained = await new Promise((r) => {
      const t = setTimeout(() => r(false), Math.max(0, end - Date.now()));
      sock.once('drain', () => {
        clearTimeout(t);
        r(true);
      });
    });
    if (!drained) stalls++;
  }
}
process.stdout.write(JSON.stringify({ written, stalled: stalls > 0 }) + '\n');
sock.destroy();
process.exit(0);
