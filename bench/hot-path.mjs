#!/usr/bin/env node
// What the agent itself spends on one get_token, without sockets, the kernel or a load
// generator competing for the CPU: the agent's connection layer (serveConnection with its
// real state: unlocked vault, policy, lock, token memo, audit log writing to a file) fed
// frames through a stand-in socket, against the handler of bench/baseline-server.mjs fed the
// same frames the same way. On a 2-core machine shared with other work this is the figure
// that can be compared from build to build; section 2 of run.mjs is the end-to-end one.
//
//   node bench/hot-path.mjs [--requests N] [--rounds N] [--cpu-prof] [--json]
//
// --cpu-prof: run this under `node --cpu-prof` yourself; the option only makes the agent's
// rounds longer and drops the baseline's, so the profile is the agent's.
// Reports ns per request (median of rounds) and the ratio; asserts nothing but correctness.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Sandbox, distImport, killAll, sleep, waitExit, killOne } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '7' },
    'cpu-prof': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(opt.requests);
const ROUNDS = Number(opt.rounds);
const SERVICE = 'bench';
const ACCOUNT = 'personal';
const TOKEN = 'hot-path-token-' + 'x'.repeat(40);
const PASSPHRASE = 'hot path passphrase';

const sandbox = new Sandbox('sigil-hotpath-');
try {
  // The vault and the token, made by the real CLI and agent; then that agent goes.
  const first = await sandbox.startAgent();
  await sandbox.sigil(['init', '--passphrase-stdin'], { input: PASSPHRASE + '\n' });
  await sandbox.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE + '\n' });
  await sandbox.sigil(['token', 'set', SERVICE, ACCOUNT, '--stdin'], { input: TOKEN });
  killOne(first.pid, 'SIGTERM');
  await waitExit(first.pid, 5000);

  // This process becomes the agent: its paths are the sandbox's.
  Object.assign(process.env, sandbox.env);
  const { startAgent } = await distImport('agent/run-agent.js');
  const { serveConnection } = await distImport('agent/connection.js');
  const { OP_TABLE } = await distImport('agent/ops/index.js');
  const { lazyCaller } = await distImport('agent/caller/identify.js');
  const { encodeFrame, decodeBody, FrameDecoder } = await distImport('protocol/frame.js');
  const { AgentClient } = await distImport('client/agent-client.js');
  const socketPath = join(sandbox.home, 'run/hot-path.sock');
  const agent = await startAgent({ socketPath, defaultSocketDir: false, debug: false });
  const client = await AgentClient.connect({ socketPath, clientName: 'bench' });
  await client.call('unlock', { passphrase: Buffer.from(PASSPHRASE) });
  client.close();

  // A caller as a real connection from this process has one (its chain read from /proc once).
  const caller = lazyCaller({ pid: process.pid, uid: process.getuid(), gid: process.getgid(), exe: process.execPath });
  const frames = Array.from({ length: 1024 }, (_, i) => encodeFrame({ v: 1, id: i + 1, op: 'get_token', args: { service: SERVICE, account: ACCOUNT } }));

  /** A socket that takes what is written and checks the last answer now and then. */
  class StandInSocket extends EventEmitter {
    destroyed = false;
    writableLength = 0;
    allowHalfOpen = false;
    written = 0;
    last = null;
    write(frame) {
      this.written++;
      this.last = frame;
      return true;
    }
    pause() {}
    resume() {}
    end() {}
    destroy() {
      this.destroyed = true;
    }
  }

  function check(sock) {
    const msg = decodeBody(sock.last.subarray(4));
    if (msg.ok !== true || msg.result.access_token !== TOKEN) throw new Error(`unexpected answer: ${JSON.stringify(msg).slice(0, 200)}`);
  }

  /** The data handler of bench/baseline-server.mjs, verbatim in what it does per frame. */
  function baselineServe(socket) {
    const tokens = new Map([[`${SERVICE}/${ACCOUNT}`, { access_token: TOKEN, token_type: 'Bearer', expires_at: null }]]);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const body of decoder.push(chunk)) {
        const req = decodeBody(body);
        const id = req?.id ?? null;
        const t = req?.op === 'get_token' ? tokens.get(`${req.args?.service}/${req.args?.account}`) : undefined;
        socket.write(encodeFrame(t ? { id, ok: true, result: { ...t } } : { id, ok: false, error: { code: 'NOT_FOUND', message: 'no such account' } }));
      }
    });
  }

  const agentSock = new StandInSocket();
  serveConnection(agentSock, agent.state, OP_TABLE, caller);
  const baseSock = new StandInSocket();
  baselineServe(baseSock);

  /** ns per request over `n` requests, one frame per 'data' event as the load generator sends them. */
  function run(sock, n) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sock.emit('data', frames[i & 1023]);
    const ns = ((performance.now() - t0) * 1e6) / n;
    if (sock.written < n) throw new Error(`only ${sock.written} answers to ${n} requests`);
    check(sock);
    sock.written = 0;
    return ns;
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  run(agentSock, 20_000); // warm-up: JIT, the token memo, the caller's chain
  run(baseSock, 20_000);
  const a = [];
  const b = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(run(agentSock, opt['cpu-prof'] ? REQUESTS * 5 : REQUESTS));
    await sleep(0); // let the audit log's writes go out between rounds
    if (!opt['cpu-prof']) b.push(run(baseSock, REQUESTS));
    await sleep(0);
  }
  await agent.state.audit.flush();
  const am = median(a);
  const bm = opt['cpu-prof'] ? NaN : median(b);
  if (opt.json) console.log(JSON.stringify({ requests: REQUESTS, rounds: ROUNDS, agentNs: am, baselineNs: bm, agentRounds: a, baselineRounds: b }));
  else console.log(`get_token in-process, ${REQUESTS} requests × ${ROUNDS} rounds (median of rounds):`);
  if (!opt.json) console.log(`  agent (serveConnection, real state, audit on)  ${am.toFixed(0).padStart(6)} ns/request   rounds ${a.map((x) => x.toFixed(0)).join(' ')}`);
  if (!opt['cpu-prof'] && !opt.json) {
    console.log(`  baseline handler (baseline-server.mjs)        ${bm.toFixed(0).padStart(6)} ns/request   rounds ${b.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`  agent − baseline: ${(am - bm).toFixed(0)} ns/request; agent/baseline ${(am / bm).toFixed(2)}×`);
  }
  await agent.shutdown('bench');
} finally {
  killAll();
  sandbox.cleanup();
}
