// A scripted fake agent on a Unix socket, run in a worker thread: the synchronous native
// client blocks the test's own thread, so the server must have an event loop of its own.
// Every connection plays `workerData.plan`, a list of steps (or, when `plan` is a list of such
// lists, connection i plays plan[i], and any after the last are left open and silent):
//   { read: n }        wait until n whole frames have arrived (their bytes are reported)
//   { send: bytes }    one write
//   { trickle: bytes } one write per byte, a millisecond apart (the reader sees many reads)
//   { end: true }      close our side
// After the last step the connection is left open and silent (an agent that hangs).
// Messages to the parent: 'ready' once listening, { request: Uint8Array } per connection.
// The parent stops it with worker.terminate().
import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

const { path, plan } = workerData;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function frameCount(buf) {
  let n = 0;
  for (let pos = 0; buf.length - pos >= 4; n++) {
    const len = buf.readUInt32BE(pos);
    if (buf.length - pos - 4 < len) break;
    pos += 4 + len;
  }
  return n;
}

let connections = 0;
const server = createServer((socket) => {
  const steps = Array.isArray(plan[0]) ? (plan[connections] ?? []) : plan;
  connections++;
  socket.on('error', () => {});
  let got = Buffer.alloc(0);
  let wake = () => {};
  socket.on('data', (chunk) => {
    got = Buffer.concat([got, chunk]);
    wake();
  });
  void (async () => {
    for (const step of steps) {
      if (step.read) {
        while (frameCount(got) < step.read) await new Promise((r) => (wake = r));
        parentPort.postMessage({ request: new Uint8Array(got) });
      } else if (step.send) {
        socket.write(Buffer.from(step.send));
      } else if (step.trickle) {
        for (const byte of step.trickle) {
          socket.write(Buffer.from([byte]));
          await sleep(1);
        }
      } else if (step.end) {
        socket.end();
      }
    }
  })();
});
server.listen(path, () => parentPort.postMessage('ready'));
