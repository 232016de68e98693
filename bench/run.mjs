#!/usr/bin/env node
// `npm run bench`: the performance goals of issue 2, each as a ratio against a baseline
// measured in the same run, on the built dist/ binaries, in a throwaway HOME.
//
//   1. sigil-token's Node shim wall time vs `node -e 0`           goal ≤ 1.15× (ratio of medians);
//      the C sigil-token (the bin) vs `oidc-token` asking a running oidc-agent for an unknown
//      account (another C client's round trip)                   goal ≤ 2× (ratio of medians),
//      and vs `ssh-add -l` against a running ssh-agent (shown); also shown: the shim on its
//      portable client (SIGIL_TOKEN_TRANSPORT=portable), bench/min-client.cjs, the least a
//      node:net client can do (the floor), and what reading the caller's identity from /proc
//      costs the agent per connection. Without oidc-agent-cli or openssh-client installed,
//      their baselines are left out, and the bench says so.
//   2. get_token req/s and p99, 1 and 32 connections, audit on,
//      vs a minimal Node server (bench/baseline-server.mjs)        goal ≥ 0.8× req/s, p99 ≤ 2 ms;
//      also the agent's own cost per get_token in-process against the baseline's handler
//      (bench/hot-path.mjs: no sockets, no load generator; shown)
//   3. unlock (scrypt 2^18 + decrypt + load) of a 10k-secret vault  goal ≤ 1.5 s
//      and one set_secret on it                                    goal ≤ 50 ms
//   4. agent RSS with the 10k secrets unlocked                     goal ≤ 80 MiB
//   5. get_token with a refresh due (bench/refresh-bench.mjs)    goal: 1 refresh per 1000 calls;
//      refreshes per 5 back-to-back sigil-token calls on a fresh 300 s token  goal: at most 1
//   6. sigil tui first frame and keypress → frame (bench/tui-bench.mjs)  goal ≤ 250 ms, ≤ 16 ms
//   7. a client pipelining get_token without reading for 30 s (bench/flooder.mjs): agent RSS
//      goal < 150 MiB, other clients' get_token p99 < 5 ms (vs their p99 without it)
//   8. secret:// resolution from a SOPS file of 1,000 values, first and cached, vs the vault's
//      (bench/sops-bench.mjs; reported, no goal)
//
// Prints a table per section and writes everything to .bench-out/results.json.
// Timings are reported, never asserted: the exit code is non-zero only when something
// did not work (a wrong token, a failed request, a crash).
//
// Options (for investigating; the defaults are the benchmark):
//   --runs N          sigil-token runs per command (default 50, minimum 40)
//   --duration MS     measuring window per load configuration (default 3000)
//   --secrets N       vault size for sections 3 and 4 (default 10000)
//   --only 1,2,3,4    run some sections only (1–9)
//   --cpu-prof DIR    run the agent in the foreground under `node --cpu-prof` (profiles in DIR)
//   --rounds N        section 2: split each configuration's window into N alternating rounds (default 2)
//   --pin             section 2: pin the server and the load generator to separate cores (taskset);
//                     off by default: on a shared, busy machine a pinned process cannot dodge others
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, scrypt } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  BIN,
  NODE,
  ROOT,
  Sandbox,
  cpuOf,
  syscallsOf,
  distImport,
  snapshotDist,
  fmt,
  fsTypeOf,
  killAll,
  killOne,
  memOf,
  sleep,
  staleBuild,
  summarize,
  table,
  track,
  untrack,
  verdict,
  waitExit,
} from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '50' },
    duration: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '500' },
    secrets: { type: 'string', default: '10000' },
    only: { type: 'string', default: '1,2,3,4,5,6,7,8,9' },
    'cpu-prof': { type: 'string' },
    pin: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
  },
});
const RUNS = Math.max(40, Number(opt.runs));
const DURATION_MS = Number(opt.duration);
const WARMUP_MS = Number(opt.warmup);
const SECRETS = Number(opt.secrets);
const ONLY = new Set(opt.only.split(',').map((s) => s.trim()));
const PROFILE_DIR = opt['cpu-prof'] ? resolve(opt['cpu-prof']) : null;
// --pin: the server gets the last core, the load generator the others.
const NCPU = cpus().length;
const PIN = opt.pin && NCPU >= 2 && spawnSync('taskset', ['-V']).status === 0;
const ROUNDS = Math.max(1, Number(opt.rounds));
const SERVER_CPUS = String(NCPU - 1);
const LOAD_CPUS = NCPU === 2 ? '0' : `0-${NCPU - 2}`;
const ALL_CPUS = `0-${NCPU - 1}`;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const PASSPHRASE = 'correct horse battery staple bench';
const SERVICE = 'bench';
const ACCOUNT = 'personal';
const TOKEN = 'ghp_' + randomBytes(18).toString('hex'); // a GitHub-PAT-sized static token
const GOALS = { tokenRatio: 1.15, nativeTokenRatio: 2, rpsRatio: 0.8, p99Ms: 2, unlockMs: 1500, writeMs: 50, rssMiB: 80, floodRssMiB: 150, floodP99Ms: 5 };
const FLOOD_MS = 30_000;

const results = {
  started: new Date().toISOString(),
  machine: {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memMiB: Math.round(totalmem() / 2 ** 20),
  },
  goals: GOALS,
  sections: {},
};
const log = (s = '') => process.stdout.write(s + '\n');
const section = (title) => log(`\n== ${title} ${'='.repeat(Math.max(0, 86 - title.length))}`);

// ---- safety: every process we start dies with us ----
let sandbox = null;
const cleanup = () => {
  killAll();
  sandbox?.cleanup();
  sandbox = null;
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`\nbench: ${sig}, stopping every process it started`);
    cleanup();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  log('\nbench: still running after 8 minutes — giving up');
  cleanup();
  process.exit(1);
}, 8 * 60_000);
watchdog.unref();

// ---- agent control ----
let agent = null; // {pid, socket}

async function startAgent() {
  if (!PROFILE_DIR) {
    agent = await sandbox.startAgent();
    return agent;
  }
  // Foreground under the profiler: the daemonizing parent would not pass --cpu-prof on.
  mkdirSync(PROFILE_DIR, { recursive: true });
  const name = `agent-${Date.now()}.cpuprofile`;
  const child = spawn(NODE, ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', name, BIN.agent, '-D', '-s'], {
    env: sandbox.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(child.pid);
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise((res, rej) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (/SIGIL_AGENT_PID=\d+/.test(out)) res();
    });
    child.on('exit', (code) => rej(new Error(`agent exited (${code}) before it was ready`)));
  });
  const sock = /SIGIL_AUTH_SOCK=([^;\s]+)/.exec(out)[1];
  sandbox.env.SIGIL_AUTH_SOCK = sock;
  sandbox.env.SIGIL_AGENT_PID = String(child.pid);
  agent = { pid: child.pid, socket: sock };
  return agent;
}

async function stopAgent() {
  if (!agent) return;
  killOne(agent.pid, 'SIGTERM');
  if (!(await waitExit(agent.pid, 5000))) killOne(agent.pid, 'SIGKILL');
  agent = null;
}

async function client() {
  const { AgentClient } = await distImport('client/agent-client.js');
  return AgentClient.connect({ socketPath: agent.socket, clientName: 'bench' });
}

// =====================================================================================
// 1. sigil-token start-up
// =====================================================================================
/** Another C client's agent, started in the sandbox HOME and tracked; null (and why) when it is not installed. */
function startBaselineAgent(cmd, args, pidVar) {
  const r = spawnSync(cmd, args, { env: sandbox.env, encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return { missing: r.error?.code === 'ENOENT' ? `${cmd} is not installed` : `${cmd} failed: ${(r.stderr || r.error?.message || '').trim()}` };
  const env = {};
  for (const [, k, v] of r.stdout.matchAll(/^(\w+)=([^;\n]+);/gm)) env[k] = v;
  const pid = Number(env[pidVar]);
  if (!pid) return { missing: `${cmd} printed no ${pidVar}` };
  track(pid);
  return { env, pid };
}

async function benchTokenStartup() {
  section('1. sigil-token wall time vs `node -e 0`, oidc-token and ssh-add -l (agent warm, static token cached)');
  const env = { ...sandbox.env };
  // Their sockets in the sandbox: removed with it (oidc-agent leaves its /tmp directory behind).
  const oidc = startBaselineAgent('oidc-agent', [`--socket-path=${join(sandbox.home, 'oidc-agent.sock')}`], 'OIDCD_PID');
  const ssh = startBaselineAgent('ssh-agent', ['-s', '-a', join(sandbox.home, 'ssh-agent.sock')], 'SSH_AGENT_PID');
  if (oidc.missing) log(`  NOTE: no oidc-token baseline: ${oidc.missing} (apt-get install -y oidc-agent-cli; scripts/setup.sh installs it)`);
  if (ssh.missing) log(`  NOTE: no ssh-add baseline: ${ssh.missing} (apt-get install -y openssh-client)`);
  const commands = [
    { key: 'node', label: 'node -e 0 (baseline)', args: ['-e', '0'], expect: '' },
    { key: 'native', label: 'sigil-token bench personal (the bin)', cmd: BIN.tokenBin, args: [SERVICE, ACCOUNT], expect: TOKEN + '\n' },
    { key: 'token', label: '  … Node shim (sigil-token.cjs)', args: [BIN.token, SERVICE, ACCOUNT], expect: TOKEN + '\n' },
    {
      key: 'portable',
      label: '  … Node shim, portable client (node:net)',
      args: [BIN.token, SERVICE, ACCOUNT],
      env: { ...env, SIGIL_TOKEN_TRANSPORT: 'portable' },
      expect: TOKEN + '\n',
    },
    { key: 'floor', label: 'bench/min-client.cjs (node:net floor)', args: [join(ROOT, 'bench/min-client.cjs'), SERVICE, ACCOUNT], expect: TOKEN + '\n' },
    // Each answers with an error, after a full round trip with its agent: the status and text are checked.
    ...(oidc.env
      ? [{ key: 'oidc', label: 'oidc-token nosuch (oidc-agent, C)', cmd: 'oidc-token', args: ['nosuch'], env: { ...env, ...oidc.env }, expect: '', status: 1, stderr: /No account configured/ }]
      : []),
    ...(ssh.env ? [{ key: 'ssh', label: 'ssh-add -l (ssh-agent, C)', cmd: 'ssh-add', args: ['-l'], env: { ...env, ...ssh.env }, expect: 'The agent has no identities.\n', status: 1 }] : []),
  ];
  const runOnce = (c, pre = []) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(c.cmd ?? NODE, [...pre, ...c.args], { env: c.env ?? env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== (c.status ?? 0) || r.stdout !== c.expect || (c.stderr && !c.stderr.test(r.stderr))) {
      throw new Error(`${c.label}: exit ${r.status}, stdout ${JSON.stringify(r.stdout.slice(0, 80))}, stderr ${r.stderr.trim()}`);
    }
    return { ms, stderr: r.stderr };
  };
  // Which transport each sigil-token row measured: the native client never loads node:net.
  const netLoaded = (c) => runOnce(c, ['--require', join(ROOT, 'bench/net-probe.cjs')]).stderr.includes('net loaded: yes');
  const byKey = Object.fromEntries(commands.map((c) => [c.key, c]));
  const transports = { token: netLoaded(byKey.token) ? 'portable' : 'native', portable: netLoaded(byKey.portable) ? 'portable' : 'native' };
  if (transports.token !== 'native') log('  NOTE: no native client in dist/native (no C compiler at build time?): both Node shim rows measure the portable client');
  // The bin is the C program unless it starts with "#!" (the launcher of the Node shim).
  const binKind = readFileSync(BIN.tokenBin).subarray(0, 2).toString('latin1') === '#!' ? 'node' : 'native';
  if (binKind !== 'native') log('  NOTE: dist/bin/sigil-token is the Node shim (no C compiler at build time?): the bin row measures Node');
  const samples = Object.fromEntries(commands.map((c) => [c.key, []]));
  const WARM = 5;
  for (let round = 0; round < WARM + RUNS; round++) {
    // Interleaved, and the order rotates each round so no command always follows another.
    for (let k = 0; k < commands.length; k++) {
      const c = commands[(round + k) % commands.length];
      const { ms } = runOnce(c);
      if (round >= WARM) samples[c.key].push(ms);
    }
  }
  const stats = Object.fromEntries(commands.map((c) => [c.key, summarize(samples[c.key])]));
  const base = stats.node.median;

  // What the agent itself costs per sigil-token: a fresh connection + hello + get_token, in process.
  const { AgentClient } = await distImport('client/agent-client.js');
  const rtt = [];
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    const c = await AgentClient.connect({ socketPath: agent.socket, clientName: 'sigil-token' });
    const r = await c.request('get_token', { service: SERVICE, account: ACCOUNT });
    c.close();
    if (i >= 20) rtt.push(performance.now() - t0);
    if (r.access_token !== TOKEN) throw new Error('in-process get_token answered a different token');
  }
  const rttStats = summarize(rtt);

  // The caller's identity, which the agent reads from /proc once per connection (and so once
  // per sigil-token): this process's chain, the same reads the agent makes for a client.
  const { identifyCaller } = await distImport('agent/caller/identify.js');
  const me = { pid: process.pid, uid: process.getuid(), gid: process.getgid() };
  const identify = [];
  let chainLength = 0;
  for (let i = 0; i < 520; i++) {
    const t0 = performance.now();
    chainLength = identifyCaller(me).chain.length;
    if (i >= 20) identify.push(performance.now() - t0);
  }
  const identifyStats = summarize(identify);

  log(
    table(
      ['command', 'runs', 'mean', 'median', 'p90', 'min', 'median ratio'],
      commands.map((c) => {
        const s = stats[c.key];
        return [c.label, s.n, fmt.ms(s.mean), fmt.ms(s.median), fmt.ms(s.p90), fmt.ms(s.min), fmt.x(s.median / base)];
      }),
    ),
  );
  const ratio = stats.token.median / base;
  const nativeRatio = stats.oidc ? stats.native.median / stats.oidc.median : null;
  log(`  agent side (in-process connect + hello + get_token, fresh connection): median ${fmt.ms(rttStats.median, 2)}, p90 ${fmt.ms(rttStats.p90, 2)}`);
  log(`  of which caller identity (/proc, a chain of ${chainLength} processes): median ${fmt.ms(identifyStats.median, 3)}, p90 ${fmt.ms(identifyStats.p90, 3)}`);
  log(
    `  Node shim − node -e 0 = ${fmt.ms(stats.token.median - base)} per call (${transports.token} client);` +
      ` portable client − node -e 0 = ${fmt.ms(stats.portable.median - base)}; floor client − node -e 0 = ${fmt.ms(stats.floor.median - base)}`,
  );
  log(`  goal: Node shim / node -e 0, median ratio ≤ ${GOALS.tokenRatio}× — ${fmt.x(ratio)} → ${verdict(ratio <= GOALS.tokenRatio)}`);
  if (nativeRatio === null) log(`  goal: the bin / oidc-token ≤ ${GOALS.nativeTokenRatio}× — not measured (no oidc-token baseline)`);
  else log(`  goal: the bin (${binKind}) / oidc-token, median ratio ≤ ${GOALS.nativeTokenRatio}× — ${fmt.x(nativeRatio)} → ${verdict(nativeRatio <= GOALS.nativeTokenRatio)}`);
  if (stats.ssh) log(`  the bin / ssh-add -l: ${fmt.x(stats.native.median / stats.ssh.median)} (shown, no goal)`);
  for (const a of [oidc, ssh]) if (a.pid) killOne(a.pid, 'SIGTERM');
  results.sections.tokenStartup = {
    runs: RUNS,
    warmup: WARM,
    stats,
    samples,
    inProcessRoundTripMs: rttStats,
    callerIdentityMs: { ...identifyStats, chainLength },
    transports,
    binKind,
    baselinesMissing: [oidc.missing, ssh.missing].filter(Boolean),
    nativeToOidcRatioOfMedians: nativeRatio,
    nativeGoal: GOALS.nativeTokenRatio,
    nativeMet: nativeRatio === null ? null : nativeRatio <= GOALS.nativeTokenRatio,
    ratioOfMedians: ratio,
    portableRatioOfMedians: stats.portable.median / base,
    floorRatioOfMedians: stats.floor.median / base,
    goal: GOALS.tokenRatio,
    met: ratio <= GOALS.tokenRatio,
  };
}

// =====================================================================================
// 2. get_token throughput and latency
// =====================================================================================
/** Pins every thread of a running process to `cpus` (taskset -a -p). */
function pin(pid, cpus) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset ${pid}: ${r.stderr.trim()}`);
}

function startBaselineServer(socketPath) {
  return new Promise((res, rej) => {
    const prof = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `baseline-${Date.now()}.cpuprofile`] : [];
    const child = spawn(NODE, [...prof, join(ROOT, 'bench/baseline-server.mjs'), socketPath, SERVICE, ACCOUNT, TOKEN], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (PIN) pin(child.pid, SERVER_CPUS);
    track(child.pid);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('ready')) res({ pid: child.pid, socket: socketPath });
    });
    child.on('exit', (code) => rej(new Error(`baseline server exited (${code}) before it was ready`)));
  });
}

/** One closed-loop run against `server`; resolves the load generator's figures plus server CPU. */
function runLoad(server, connections, durationMs, latenciesOut) {
  return new Promise((res, rej) => {
    const cfg = { socket: server.socket, connections, warmupMs: WARMUP_MS, durationMs, service: SERVICE, account: ACCOUNT, token: TOKEN, latenciesOut };
    const cpu0 = cpuOf(server.pid);
    const sys0 = syscallsOf(server.pid);
    const argv = [join(ROOT, 'bench/load.mjs'), JSON.stringify(cfg)];
    const child = PIN
      ? spawn('taskset', ['-c', LOAD_CPUS, NODE, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(NODE, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    track(child.pid);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', rej);
    child.on('close', (code) => {
      untrack(child.pid);
      const cpu1 = cpuOf(server.pid);
      const sys1 = syscallsOf(server.pid);
      if (code !== 0) return rej(new Error(`load generator exited ${code}`));
      const r = JSON.parse(out);
      if (r.errors > 0) return rej(new Error(`load generator: ${r.errors} bad answers, first: ${r.firstError}`));
      r.serverUserS = cpu1.user - cpu0.user;
      r.serverSysS = cpu1.sys - cpu0.sys;
      r.serverCpuS = r.serverUserS + r.serverSysS;
      r.serverReads = sys1.r - sys0.r;
      r.serverWrites = sys1.w - sys0.w;
      res(r);
    });
  });
}

/** Merges rounds: req/s over the summed windows, percentiles over every latency. */
function mergeRounds(rounds, files) {
  const parts = files.map((f) => {
    const b = readFileSync(f);
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  });
  const stats = summarize(parts.flatMap((p) => Array.from(p)));
  const count = rounds.reduce((a, r) => a + r.count, 0);
  const total = rounds.reduce((a, r) => a + r.total, 0);
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  const cpu = rounds.reduce((a, r) => a + r.serverCpuS, 0);
  const user = rounds.reduce((a, r) => a + r.serverUserS, 0);
  const reads = rounds.reduce((a, r) => a + r.serverReads, 0);
  const writes = rounds.reduce((a, r) => a + r.serverWrites, 0);
  return {
    connections: rounds[0].connections,
    rounds: rounds.length,
    seconds,
    count,
    rps: count / seconds,
    mean: stats.mean,
    p50: stats.median,
    p90: stats.p90,
    p99: stats.p99,
    max: stats.max,
    serverCpuS: cpu,
    serverCpuUsPerReq: (cpu / total) * 1e6,
    serverUserUsPerReq: (user / total) * 1e6,
    serverSysUsPerReq: ((cpu - user) / total) * 1e6,
    serverReadsPerReq: reads / total,
    serverWritesPerReq: writes / total,
    perRoundRps: rounds.map((r) => Math.round(r.rps)),
  };
}

async function benchThroughput() {
  section('2. get_token throughput and latency, audit on, vs a minimal Node server');
  const load = loadavg();
  const base = await startBaselineServer(join(sandbox.home, 'run/baseline.sock'));
  const runs = {};
  try {
    if (PIN) pin(agent.pid, SERVER_CPUS);
    // Rounds alternate agent, baseline, agent, baseline…: a burst of outside load then
    // lands on both rather than on one of them.
    const perRound = Math.round(DURATION_MS / ROUNDS);
    for (const conns of [1, 32]) {
      const acc = { agent: [[], []], baseline: [[], []] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, server] of [
          ['agent', agent],
          ['baseline', base],
        ]) {
          const file = join(sandbox.home, `lat-${name}-${conns}-${round}.f64`);
          acc[name][0].push(await runLoad(server, conns, perRound, file));
          acc[name][1].push(file);
        }
      }
      runs[`agent_${conns}`] = mergeRounds(...acc.agent);
      runs[`baseline_${conns}`] = mergeRounds(...acc.baseline);
    }
  } finally {
    killOne(base.pid);
    if (PIN) pin(agent.pid, ALL_CPUS);
  }
  // Audit on: the agent's log must hold get_token lines from this run.
  await sleep(200); // the audit buffer flushes within 100 ms
  const auditTail = readTail(sandbox.auditPath, 4096);
  const audited = auditTail.includes('"op":"get_token"');
  const auditLine = auditTail.split('\n').filter((l) => l.includes('"op":"get_token"')).at(-1) ?? '';
  const auditLineBytes = Buffer.byteLength(auditLine) + 1;

  const rows = [];
  const summary = {};
  for (const conns of [1, 32]) {
    const a = runs[`agent_${conns}`];
    const b = runs[`baseline_${conns}`];
    for (const [name, r] of [
      ['agent', a],
      ['baseline', b],
    ]) {
      rows.push([
        `${name}, ${conns} conn`,
        fmt.int(r.rps),
        fmt.ms(r.p50, 3),
        fmt.ms(r.p90, 3),
        fmt.ms(r.p99, 3),
        fmt.ms(r.max, 2),
        `${r.serverCpuUsPerReq.toFixed(1)} µs (${r.serverUserUsPerReq.toFixed(1)} + ${r.serverSysUsPerReq.toFixed(1)})`,
        `${r.serverReadsPerReq.toFixed(2)} / ${r.serverWritesPerReq.toFixed(2)}`,
      ]);
    }
    const rpsRatio = a.rps / b.rps;
    summary[conns] = {
      rpsRatio,
      p99Ratio: a.p99 / b.p99,
      cpuPerReqRatio: a.serverCpuUsPerReq / b.serverCpuUsPerReq,
      rpsMet: rpsRatio >= GOALS.rpsRatio,
      p99Met: a.p99 <= GOALS.p99Ms,
    };
  }
  log(table(['server, connections', 'req/s', 'p50', 'p90', 'p99', 'max', 'server CPU/req (user + sys)', 'syscalls/req (r / w)'], rows));
  log(
    `  closed loop, one request in flight per connection; per row ${DURATION_MS} ms measured in ${ROUNDS} round(s)` +
      ` alternating agent/baseline, each after a ${WARMUP_MS} ms warm-up on fresh connections.`,
  );
  log(`  NOTE: ${NCPU} cores — the load generator (one Node process) competes with the server for CPU, so req/s is`);
  log('  a joint figure of both; the ratios and the server CPU per request are the comparable parts.');
  log(
    PIN
      ? `  Pinned (taskset): server (agent or baseline) on CPU ${SERVER_CPUS}, load generator on CPU ${LOAD_CPUS}. Load average before: ${load}.`
      : `  Not pinned: server and load generator share all ${NCPU} CPUs. Load average before: ${load}.`,
  );
  log(
    `  audit on: get_token lines in ${sandbox.auditPath.replace(sandbox.home, '$HOME')}: ${audited ? 'yes' : 'NO'}` +
      ` (${auditLineBytes} bytes each: ${((runs.agent_32.rps * auditLineBytes) / 2 ** 20).toFixed(1)} MiB/s of audit log at the 32-connection rate)`,
  );
  for (const conns of [1, 32]) {
    const s = summary[conns];
    const a = runs[`agent_${conns}`];
    log(
      `  ${String(conns).padStart(2)} conn: agent/baseline req/s ${fmt.x(s.rpsRatio)} (goal ≥ ${GOALS.rpsRatio}×) → ${verdict(s.rpsMet)};` +
        ` agent p99 ${fmt.ms(a.p99, 3)} (goal ≤ ${GOALS.p99Ms} ms) → ${verdict(s.p99Met)}; p99 ratio ${fmt.x(s.p99Ratio)}; CPU/req ratio ${fmt.x(s.cpuPerReqRatio)}`,
    );
  }
  // The agent's own cost per get_token, without the kernel or the load generator: the figure
  // that holds still on a busy machine (bench/hot-path.mjs, in its own process and HOME).
  const hot = spawnSync(NODE, [join(ROOT, 'bench/hot-path.mjs'), '--requests', '50000', '--rounds', '5', '--json'], { encoding: 'utf8', env: process.env, timeout: 180_000 });
  const inProcess = hot.status === 0 ? JSON.parse(hot.stdout.trim().split('\n').at(-1)) : null;
  if (inProcess) {
    log(
      `  in-process (bench/hot-path.mjs, no sockets): agent ${(inProcess.agentNs / 1000).toFixed(2)} µs per get_token, the baseline's handler ` +
        `${(inProcess.baselineNs / 1000).toFixed(2)} µs: ${fmt.x(inProcess.agentNs / inProcess.baselineNs)}, the agent's own work ${((inProcess.agentNs - inProcess.baselineNs) / 1000).toFixed(2)} µs more`,
    );
  } else log(`  in-process figure missing: bench/hot-path.mjs failed (${hot.status ?? hot.signal}): ${(hot.stderr || '').trim().split('\n').at(-1)}`);
  results.sections.throughput = {
    inProcess,
    cores: NCPU,
    pinned: PIN ? { server: SERVER_CPUS, load: LOAD_CPUS } : false,
    loadavgBefore: load,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    rounds: ROUNDS,
    runs,
    summary,
    audited,
    auditLineBytes,
    goals: { rpsRatio: GOALS.rpsRatio, p99Ms: GOALS.p99Ms },
    met: Object.values(summary).every((s) => s.rpsMet && s.p99Met),
  };
  if (!audited) throw new Error('the agent wrote no get_token audit lines: the throughput run was not "audit on"');
}

function readTail(path, n) {
  const buf = readFileSync(path);
  return buf.subarray(Math.max(0, buf.length - n)).toString('utf8');
}

// =====================================================================================
// 3. unlock and write with a 10k-secret vault
// =====================================================================================
function rawScrypt() {
  const N = 2 ** 18;
  return new Promise((res, rej) => {
    const t0 = performance.now();
    scrypt('passphrase', randomBytes(16), 32, { N, r: 8, p: 1, maxmem: 128 * 8 * N + (1 << 20) }, (err) =>
      err ? rej(err) : res(performance.now() - t0),
    );
  });
}

async function atomicWrite(path, data) {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path);
}

async function benchUnlockWrite() {
  section(`3. unlock and one write with a ${SECRETS.toLocaleString('en-US')}-secret vault`);
  const c = await client();
  let fill;
  try {
    // Fill: every set_secret pipelined on one connection; the vault coalesces the writes.
    const t0 = performance.now();
    const pending = [];
    for (let i = 0; i < SECRETS; i++) {
      pending.push(c.request('set_secret', { name: `bench/s${String(i).padStart(5, '0')}`, value: randomBytes(24).toString('base64') }, { timeoutMs: 120_000 }));
    }
    await Promise.all(pending);
    fill = performance.now() - t0;
    const status = await c.request('status');
    if (status.secrets < SECRETS) throw new Error(`the agent holds ${status.secrets} entries, expected ≥ ${SECRETS}`);
    await c.request('lock');
  } finally {
    c.close();
  }
  const vaultBytes = statSync(sandbox.vaultPath).size;
  const data = randomBytes(vaultBytes);
  const target = join(sandbox.home, 'data/baseline-write.bin');

  // Unlock over the socket (fresh connection, as `sigil unlock` does), alternating with the
  // baseline scrypt in this process (the agent idle meanwhile): median of UNLOCK_ROUNDS each.
  const UNLOCK_ROUNDS = 3;
  const unlocks = [];
  const scrypts = [];
  const writes = [];
  const fsWrites = [];
  const c2 = await client();
  try {
    for (let k = 0; k < UNLOCK_ROUNDS; k++) {
      if (k > 0) await c2.request('lock');
      scrypts.push(await rawScrypt());
      const t0 = performance.now();
      await c2.request('unlock', { passphrase: PASSPHRASE });
      unlocks.push(performance.now() - t0);
    }
    // One write at a time, each awaited, alternating with the baseline file write. sync(1)
    // before each: otherwise each write's fsync also pays for the journal work the other
    // left behind (the replaced file's blocks, its rename), which doubled the agent's figure.
    for (let i = 0; i < 22; i++) {
      spawnSync('sync');
      const t1 = performance.now();
      await c2.request('set_secret', { name: `bench/s${String(i).padStart(5, '0')}`, value: randomBytes(24).toString('base64') });
      const t2 = performance.now();
      spawnSync('sync');
      const t3 = performance.now();
      await atomicWrite(target, data);
      const t4 = performance.now();
      if (i >= 2) {
        writes.push(t2 - t1);
        fsWrites.push(t4 - t3);
      }
    }
  } finally {
    c2.close();
    await unlink(target).catch(() => {});
  }
  const unlockStats = summarize(unlocks);
  const scryptStats = summarize(scrypts);
  const unlockMs = unlockStats.median;
  const scryptMs = scryptStats.median;
  const writeStats = summarize(writes);
  const fsStats = summarize(fsWrites);
  const fsType = fsTypeOf(sandbox.home);

  log(
    table(
      ['measure', 'time', 'baseline', 'baseline time', 'ratio'],
      [
        [`unlock (scrypt 2^18 + decrypt + load), median of ${UNLOCK_ROUNDS}`, fmt.ms(unlockMs, 0), `one crypto.scrypt 2^18,8,1, median of ${UNLOCK_ROUNDS}`, fmt.ms(scryptMs, 0), fmt.x(unlockMs / scryptMs)],
        ['set_secret (replaces one; history on), median of 20', fmt.ms(writeStats.median, 1), 'writeFile+fsync+rename, median of 20', fmt.ms(fsStats.median, 1), fmt.x(writeStats.median / fsStats.median)],
      ],
    ),
  );
  log(`  unlock runs ${unlocks.map((x) => x.toFixed(0)).join(', ')} ms; scrypt runs ${scrypts.map((x) => x.toFixed(0)).join(', ')} ms`);
  log(`  vault.age ${(vaultBytes / 1024).toFixed(0)} KiB on ${fsType}; unlock − scrypt = ${fmt.ms(unlockMs - scryptMs, 0)} (decrypt + parse + load)`);
  log(`  set_secret p90 ${fmt.ms(writeStats.p90)}, max ${fmt.ms(writeStats.max)}; fill: ${SECRETS} pipelined set_secret in ${fmt.ms(fill, 0)} (${fmt.int(SECRETS / (fill / 1000))}/s)`);
  log(`  goal: unlock ≤ ${GOALS.unlockMs} ms — ${fmt.ms(unlockMs, 0)} → ${verdict(unlockMs <= GOALS.unlockMs)}`);
  log(`  goal: one write ≤ ${GOALS.writeMs} ms — median ${fmt.ms(writeStats.median)} → ${verdict(writeStats.median <= GOALS.writeMs)}`);
  results.sections.unlockWrite = {
    secrets: SECRETS,
    vaultBytes,
    fsType,
    fillMs: fill,
    unlockMs,
    scryptMs,
    unlockRuns: unlocks,
    scryptRuns: scrypts,
    unlockRatio: unlockMs / scryptMs,
    write: writeStats,
    fsWrite: fsStats,
    writeRatio: writeStats.median / fsStats.median,
    met: { unlock: unlockMs <= GOALS.unlockMs, write: writeStats.median <= GOALS.writeMs },
  };
}

// =====================================================================================
// 4. agent RSS with the vault unlocked
// =====================================================================================
async function settledRss(pid, pauseMs = 3000) {
  // No way to force a GC in another process: wait, then take the lowest of a few samples.
  await sleep(pauseMs);
  const samples = [];
  for (let i = 0; i < 4; i++) {
    samples.push(memOf(pid));
    await sleep(250);
  }
  return { rssKiB: Math.min(...samples.map((s) => s.rssKiB)), hwmKiB: samples.at(-1).hwmKiB };
}

async function benchRss() {
  section(`4. agent RSS with ${SECRETS.toLocaleString('en-US')} secrets unlocked`);
  // The agent that went through sections 1–3 (a long-lived one), then a fresh one.
  const longLived = await settledRss(agent.pid);

  await stopAgent();
  await startAgent();
  const c = await client();
  let coldUnlockMs;
  try {
    const t0 = performance.now();
    await c.request('unlock', { passphrase: PASSPHRASE });
    coldUnlockMs = performance.now() - t0;
    const status = await c.request('status');
    if (status.secrets < SECRETS) throw new Error(`fresh agent holds ${status.secrets} entries, expected ≥ ${SECRETS}`);
  } finally {
    c.close();
  }
  const fresh = await settledRss(agent.pid);
  // A used agent: every token rotation or secret change rewrites the whole vault.
  const c2 = await client();
  try {
    for (let i = 0; i < 20; i++) {
      await c2.request('set_secret', { name: `bench/s${String(i).padStart(5, '0')}`, value: randomBytes(24).toString('base64') });
    }
  } finally {
    c2.close();
  }
  const written = await settledRss(agent.pid);

  const idle = spawn(NODE, ['-e', 'setTimeout(()=>{},1e9)'], { stdio: 'ignore' });
  track(idle.pid);
  const baseline = await settledRss(idle.pid, 1500);
  killOne(idle.pid);

  log(
    table(
      ['process', 'VmRSS', 'VmHWM (peak)', 'ratio to idle node'],
      [
        ['fresh agent, unlocked', fmt.mib(fresh.rssKiB), fmt.mib(fresh.hwmKiB), fmt.x(fresh.rssKiB / baseline.rssKiB)],
        ['  … then 20 set_secret', fmt.mib(written.rssKiB), fmt.mib(written.hwmKiB), fmt.x(written.rssKiB / baseline.rssKiB)],
        ['agent after sections 1–3', fmt.mib(longLived.rssKiB), fmt.mib(longLived.hwmKiB), fmt.x(longLived.rssKiB / baseline.rssKiB)],
        ['idle node (baseline)', fmt.mib(baseline.rssKiB), fmt.mib(baseline.hwmKiB), '1.00×'],
      ],
    ),
  );
  log(`  fresh agent: unlock in a new process took ${fmt.ms(coldUnlockMs, 0)}; its RSS above idle node: ${fmt.mib(fresh.rssKiB - baseline.rssKiB)}`);
  const freshMiB = Math.max(fresh.rssKiB, written.rssKiB) / 1024;
  const longMiB = longLived.rssKiB / 1024;
  log(`  goal: RSS ≤ ${GOALS.rssMiB} MiB, fresh agent with the vault unlocked, before and after 20 writes — ${freshMiB.toFixed(1)} MiB at most → ${verdict(freshMiB <= GOALS.rssMiB)}`);
  log(`  (informational) the agent after the load of sections 1–3 — ${longMiB.toFixed(1)} MiB → ${longMiB <= GOALS.rssMiB ? 'within' : 'OVER'} the goal`);
  results.sections.rss = {
    secrets: SECRETS,
    freshKiB: fresh,
    afterWritesKiB: written,
    longLivedKiB: longLived,
    idleNodeKiB: baseline,
    freshRatio: fresh.rssKiB / baseline.rssKiB,
    afterWritesRatio: written.rssKiB / baseline.rssKiB,
    coldUnlockMs,
    met: freshMiB <= GOALS.rssMiB,
    longLivedWithinGoal: longMiB <= GOALS.rssMiB,
  };
}

// =====================================================================================
// 7. a client that pipelines and never reads
// =====================================================================================
async function benchFlood() {
  section(`7. one client pipelines get_token without reading for ${FLOOD_MS / 1000} s; 4 others keep asking`);
  const others = 4;
  const before = await runLoad(agent, others, 3000);
  const flooder = spawn(NODE, [join(ROOT, 'bench/flooder.mjs'), agent.socket, SERVICE, ACCOUNT, String(FLOOD_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  track(flooder.pid);
  let out = '';
  flooder.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const done = new Promise((res) => flooder.on('close', res));
  let peakKiB = 0;
  const sampler = setInterval(() => {
    try {
      peakKiB = Math.max(peakKiB, memOf(agent.pid).rssKiB);
    } catch {
      // the agent died: reported below
    }
  }, 250);
  await sleep(1000); // the flood fills the agent's bound first
  const during = await runLoad(agent, others, FLOOD_MS - 3000 - WARMUP_MS);
  await done;
  clearInterval(sampler);
  untrack(flooder.pid);
  const flood = JSON.parse(out || '{}');
  const alive = (() => {
    try {
      process.kill(agent.pid, 0);
      return true;
    } catch {
      return false;
    }
  })();
  if (!alive) throw new Error('the agent died under the flood');
  const r = {
    floodWritten: flood.written,
    floodStalled: flood.stalled,
    peakRssKiB: peakKiB,
    othersP99Before: before.p99,
    othersP99During: during.p99,
    othersRpsBefore: before.rps,
    othersRpsDuring: during.rps,
    met: peakKiB / 1024 < GOALS.floodRssMiB && during.p99 < GOALS.floodP99Ms,
  };
  log(
    table(
      ['', 'value'],
      [
        ['requests the flooder got in (it stalled: the bound held)', `${flood.written?.toLocaleString('en-US')} (${flood.stalled ? 'stalled' : 'never stalled'})`],
        ['agent RSS, peak during the flood', fmt.mib(peakKiB)],
        [`${others} other clients' get_token p99, without / with the flood`, `${fmt.ms(before.p99, 3)} / ${fmt.ms(during.p99, 3)} (${fmt.x(during.p99 / before.p99)})`],
        [`${others} other clients' req/s, without / with the flood`, `${Math.round(before.rps)} / ${Math.round(during.rps)} (${fmt.x(during.rps / before.rps)})`],
      ],
    ),
  );
  results.sections.flood = r;
}

// =====================================================================================
async function main() {
  const stale = staleBuild();
  log(`Sigilforge benchmark — node ${process.version}, ${NCPU} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()}`);
  results.machine.loadavgStart = loadavg();
  if (Number(loadavg().split(' ')[0]) > NCPU * 0.5) {
    log(`NOTE: the machine is busy (load average ${loadavg()} on ${NCPU} cores): other processes compete with every figure below.`);
  }
  if (Array.isArray(stale)) log(`WARNING: source files newer than dist/ (measuring the old build): ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}`);
  if (PROFILE_DIR) log(`agent runs in the foreground under --cpu-prof; profiles go to ${PROFILE_DIR}`);

  const t0 = performance.now();
  sandbox = new Sandbox();
  snapshotDist(join(sandbox.home, 'app'));
  log(`temp HOME ${sandbox.home} (measuring a snapshot of dist/ copied there)`);
  await startAgent();
  // Default work factor (2^18): section 3 measures the real unlock cost.
  await sandbox.sigil(['init', '--passphrase-stdin'], { input: PASSPHRASE + '\n' });
  await sandbox.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE + '\n' });
  await sandbox.sigil(['token', 'set', SERVICE, ACCOUNT, '--stdin'], { input: TOKEN });
  log(`set-up (agent, init and unlock at scrypt 2^18, token set): ${fmt.ms(performance.now() - t0, 0)}`);

  if (ONLY.has('1')) await benchTokenStartup();
  if (ONLY.has('2')) await benchThroughput();
  if (ONLY.has('3')) await benchUnlockWrite();
  if (ONLY.has('4')) await benchRss();
  if (ONLY.has('7')) await benchFlood();
  await stopAgent();
  if (ONLY.has('5')) {
    section('5. OAuth refresh: a fresh 300 s token, and get_token with a refresh due (real OpenID provider)');
    const { runRefreshBench } = await import('./refresh-bench.mjs');
    results.sections.refresh = await runRefreshBench(log);
  }
  if (ONLY.has('6')) {
    section('6. sigil tui: first frame and keypress to frame (bench/tui-bench.mjs)');
    const { runTuiBench, printTuiBench } = await import('./tui-bench.mjs');
    results.sections.tui = await runTuiBench();
    printTuiBench(results.sections.tui);
  }
  if (ONLY.has('8')) {
    section('8. secret:// from a SOPS file of 1,000 values vs the vault (bench/sops-bench.mjs)');
    const { runSopsBench } = await import('./sops-bench.mjs');
    results.sections.sops = await runSopsBench(log);
  }

  if (ONLY.has('9')) {
    section('9. sigil sync of a 10,000-secret vault, 100 changes on each of two devices, vs git pull && git push (bench/sync-bench.mjs)');
    const { runSyncBench } = await import('./sync-bench.mjs');
    results.sections.sync = await runSyncBench(log);
  }

  results.totalSeconds = (performance.now() - t0) / 1000;
  section('summary');
  const s = results.sections;
  const rows = [];
  if (s.tokenStartup) {
    const t = s.tokenStartup;
    rows.push([`sigil-token bin (${t.binKind}) / oidc-token (medians)`, `≤ ${GOALS.nativeTokenRatio}×`, t.nativeToOidcRatioOfMedians === null ? 'not measured' : fmt.x(t.nativeToOidcRatioOfMedians), t.nativeMet === null ? '' : verdict(t.nativeMet)]);
    rows.push([`sigil-token Node shim / node -e 0 (medians, ${s.tokenStartup.transports.token} client)`, `≤ ${GOALS.tokenRatio}×`, fmt.x(s.tokenStartup.ratioOfMedians), verdict(s.tokenStartup.met)]);
    rows.push(['  … portable client / node -e 0 (informational)', '-', fmt.x(s.tokenStartup.portableRatioOfMedians), '']);
  }
  if (s.throughput) {
    for (const conns of [1, 32]) {
      const x = s.throughput.summary[conns];
      rows.push([`get_token req/s agent/baseline, ${conns} conn`, `≥ ${GOALS.rpsRatio}×`, fmt.x(x.rpsRatio), verdict(x.rpsMet)]);
      rows.push([`get_token p99, ${conns} conn`, `≤ ${GOALS.p99Ms} ms`, fmt.ms(s.throughput.runs[`agent_${conns}`].p99, 3), verdict(x.p99Met)]);
    }
  }
  if (s.unlockWrite) {
    rows.push([`unlock, ${SECRETS} secrets (÷ scrypt ${fmt.x(s.unlockWrite.unlockRatio)})`, `≤ ${GOALS.unlockMs} ms`, fmt.ms(s.unlockWrite.unlockMs, 0), verdict(s.unlockWrite.met.unlock)]);
    rows.push([`one set_secret (÷ fs write ${fmt.x(s.unlockWrite.writeRatio)})`, `≤ ${GOALS.writeMs} ms`, fmt.ms(s.unlockWrite.write.median), verdict(s.unlockWrite.met.write)]);
  }
  if (s.rss) {
    rows.push([`agent RSS, fresh + unlocked (÷ idle node ${fmt.x(s.rss.freshRatio)})`, `≤ ${GOALS.rssMiB} MiB`, fmt.mib(s.rss.freshKiB.rssKiB), verdict(s.rss.freshKiB.rssKiB / 1024 <= GOALS.rssMiB)]);
    rows.push([`  … after 20 writes (÷ idle node ${fmt.x(s.rss.afterWritesRatio)})`, `≤ ${GOALS.rssMiB} MiB`, fmt.mib(s.rss.afterWritesKiB.rssKiB), verdict(s.rss.afterWritesKiB.rssKiB / 1024 <= GOALS.rssMiB)]);
    rows.push(['agent RSS after sections 1–3 (informational)', `≤ ${GOALS.rssMiB} MiB`, fmt.mib(s.rss.longLivedKiB.rssKiB), s.rss.longLivedWithinGoal ? '(within)' : '(over)']);
  }
  if (s.refresh) {
    const sl = s.refresh.shortLived;
    rows.push([`refreshes per ${sl.calls} back-to-back sigil-token, fresh ${sl.ttlS} s token`, '≤ 1', String(sl.refreshes), verdict(sl.met)]);
    rows.push([`refreshes per ${s.refresh.calls} concurrent due calls`, '= 1', s.refresh.due.map((r) => r.refreshes).join(' '), verdict(s.refresh.met)]);
    rows.push([`  their p50 / p99 (cached: ${fmt.ms(s.refresh.cachedP50Ms)} / ${fmt.ms(s.refresh.cachedP99Ms)})`, '-', `${fmt.ms(s.refresh.p50Ms)} / ${fmt.ms(s.refresh.p99Ms)}`, '']);
  }
  if (s.flood) {
    rows.push([`agent RSS while a client pipelines without reading`, `< ${GOALS.floodRssMiB} MiB`, fmt.mib(s.flood.peakRssKiB), verdict(s.flood.peakRssKiB / 1024 < GOALS.floodRssMiB)]);
    rows.push([`  other clients' p99 meanwhile (÷ without it ${fmt.x(s.flood.othersP99During / s.flood.othersP99Before)})`, `< ${GOALS.floodP99Ms} ms`, fmt.ms(s.flood.othersP99During, 3), verdict(s.flood.othersP99During < GOALS.floodP99Ms)]);
  }
  if (s.tui) {
    const t = s.tui;
    rows.push(['sigil tui first frame, unlocked (p50)', `≤ ${t.goals.firstFrameMs} ms`, fmt.ms(t.firstFrame.unlocked.p50, 0), verdict(t.firstFrame.unlocked.p50 <= t.goals.firstFrameMs)]);
    rows.push(['sigil tui key → frame, j / k (p50)', `≤ ${t.goals.keyToFrameMs} ms`, `${fmt.ms(t.keyToFrame.accountsJ.p50)} / ${fmt.ms(t.keyToFrame.auditK.p50)}`, verdict(Math.max(t.keyToFrame.accountsJ.p50, t.keyToFrame.auditK.p50) <= t.goals.keyToFrameMs)]);
  }
  if (s.sync) {
    rows.push([`sigil sync / git pull && git push (medians, same bytes moved)`, '≤ 3×', fmt.x(s.sync.ratio), verdict(s.sync.met)]);
    rows.push(['  … unlock of the merged vault (CLI wall time)', '-', fmt.ms(s.sync.unlockMs.median, 0), '']);
  }
  if (s.sops) {
    rows.push([`SOPS resolve, first after unlock / cached p50 (${s.sops.values} values)`, '-', `${fmt.ms(s.sops.firstMs.sops)} / ${fmt.ms(s.sops.cached.sops.median)}`, '']);
    rows.push([`  … the vault's`, '-', `${fmt.ms(s.sops.firstMs.vault)} / ${fmt.ms(s.sops.cached.vault.median)}`, '']);
  }
  log(table(['goal', 'target', 'measured', ''], rows));

  const outDir = join(ROOT, '.bench-out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  results.machine.loadavgEnd = loadavg();
  log(`\nload average at start ${results.machine.loadavgStart}, at end ${results.machine.loadavgEnd} (${NCPU} cores)`);
  log(`results: .bench-out/results.json — total ${results.totalSeconds.toFixed(0)} s`);
}

try {
  await main();
} catch (err) {
  process.exitCode = 1;
  log(`\nbench failed: ${err?.stack ?? err}`);
} finally {
  await stopAgent().catch(() => {});
  cleanup();
}
