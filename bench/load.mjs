// Closed-loop load generator for get_token, in its own process (apart from both servers).
//   node bench/load.mjs '{"socket":…,"connections":32,"warmupMs":500,"durationMs":3000,
//                         "service":…,"account":…,"token":…}'
// Each connection sends `hello` once, then loops: send get_token, wait for its answer, send
// the next (one request in flight per connection). Answers completed inside the measuring
// window (after the warm-up) count towards throughput and latency. Every answer is decoded
// and checked against the expected token. Prints one JSON object on stdout.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The measured build: run.mjs passes its snapshot of dist/ in SIGIL_BENCH_DIST.
const dist = process.env.SIGIL_BENCH_DIST || new URL('../dist', import.meta.url).pathname;
const { decodeBody, encodeFrame, FrameDecoder } = await import(pathToFileURL(join(dist, 'protocol/frame.js')).href);

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { socket: socketPath, connections = 1, warmupMs = 500, durationMs = 3000, service, account, token, latenciesOut } = cfg;

let measureStart = Infinity;
let measureEnd = Infinity;
let stopping = false;
let latencies = new Float64Array(1 << 16);
let count = 0; // answers inside the window
let total = 0; // every get_token answer, warm-up included
let errors = 0;
let firstError = null;

function record(ms) {
  if (count === latencies.length) {
    const next = new Float64Array(latencies.length * 2);
    next.set(latencies);
    latencies = next;
  }
  latencies[count++] = ms;
}

function fail(msg) {
  errors++;
  firstError ??= msg;
}

function runConnection() {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const decoder = new FrameDecoder();
    let id = 0;
    let sentAt = 0;
    let helloDone = false;
    const send = () => {
      if (stopping) {
        sock.end();
        return;
      }
      id++;
      sentAt = performance.now();
      sock.write(encodeFrame({ v: 1, id, op: 'get_token', args: { service, account } }));
    };
    sock.on('error', reject);
    sock.on('close', () => resolve());
    sock.on('connect', () => sock.write(encodeFrame({ v: 1, id: 0, op: 'hello', args: { client: 'bench-load', versions: [1] } })));
    sock.on('data', (chunk) => {
      for (const body of decoder.push(chunk)) {
        const now = performance.now();
        const msg = decodeBody(body);
        if (!helloDone) {
          helloDone = true;
          if (msg.ok !== true) fail(`hello: ${JSON.stringify(msg.error)}`);
          ready();
          send();
          continue;
        }
        total++;
        if (msg.id !== id) fail(`answer id ${msg.id}, expected ${id}`);
        else if (msg.ok !== true) fail(`get_token: ${msg.error?.code} ${msg.error?.message}`);
        else if (msg.result.access_token !== token) fail('get_token answered a different token');
        if (now >= measureStart && now < measureEnd) record(now - sentAt);
        send();
      }
    });
  });
}

let readyCount = 0;
let startTimers;
const allReady = new Promise((r) => (startTimers = r));
function ready() {
  if (++readyCount === connections) startTimers();
}

const conns = Array.from({ length: connections }, runConnection);
await allReady;
const t0 = performance.now();
measureStart = t0 + warmupMs;
measureEnd = measureStart + durationMs;
setTimeout(() => {
  stopping = true;
}, warmupMs + durationMs);
await Promise.all(conns);

const s = latencies.subarray(0, count).sort();
// Raw latencies (ms, float64, sorted) for a caller that merges several runs.
if (latenciesOut) writeFileSync(latenciesOut, Buffer.from(s.buffer, s.byteOffset, s.byteLength));
const at = (p) => (count === 0 ? NaN : s[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))]);
let sum = 0;
for (const x of s) sum += x;
process.stdout.write(
  JSON.stringify({
    connections,
    seconds: durationMs / 1000,
    count,
    total,
    rps: count / (durationMs / 1000),
    mean: sum / count,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: at(100),
    errors,
    firstError,
  }) + '\n',
);
