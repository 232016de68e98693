// Benchmark for sync between devices (issue 12): `sigil sync` of a 10,000-secret vault with 100
// secrets changed on each of two devices, against `git pull && git push` of the same repository
// (two plain clones, a change each) in the same run; and the unlock of the merged vault.
//
// Each round: device B changes 100 secrets and syncs (its push), device A changes 100 others
// and its `sigil sync` is timed (fetch, three-way merge of the whole vault, commit, push, write
// back), then B syncs to settle. The baseline round moves the same bytes with git alone: clone C
// and clone D each commit a file of their own as large as the vault (random, as an encrypted
// vault is), D pushes, and C's `git pull --no-edit && git push` is timed.
//
// Run alone: node bench/sync-bench.mjs   (or as section 9 of npm run bench)
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distImport, fmt, killAll, ROOT, Sandbox, summarize, table } from './lib.mjs';

const SECRETS = 10_000;
const CHANGED = 100;
const ROUNDS = 3;
const PASSPHRASE = 'bench passphrase';
export const SYNC_GOAL = 3;

function time(fn) {
  const t = performance.now();
  const r = fn();
  return r instanceof Promise ? r.then(() => performance.now() - t) : performance.now() - t;
}

/** 10,000 secrets written straight into A's vault in one write (10,000 set_secret calls would re-encrypt it 10,000 times). */
async function fillVault(sb) {
  const { openVault } = await distImport('stores/vault-store.js');
  const { sigilPaths } = await distImport('util/paths.js');
  const store = await openVault(sigilPaths(sb.env), Buffer.from(PASSPHRASE));
  const sets = Array.from({ length: SECRETS }, (_, i) => [`sigilforge/_secret/bench/s${i}`, Buffer.from(`value-${i}-${'x'.repeat(40)}`)]);
  await store.writeBatch(sets, []);
  await store.close();
}

async function changeSecrets(c, from, round) {
  await Promise.all(Array.from({ length: CHANGED }, (_, i) => c.request('set_secret', { name: `bench/s${from + i}`, value: `round-${round}-${from + i}` })));
}

function git(cwd, args) {
  const r = spawnSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost.invalid', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr}`);
}

export async function runSyncBench(log = console.log) {
  mkdirSync(join(ROOT, '.bench-out'), { recursive: true });
  const work = mkdtempSync(join(ROOT, '.bench-out', 'sync-'));
  const remote = join(work, 'remote.git');
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch', 'main', remote]);
  const { AgentClient } = await distImport('client/agent-client.js');
  const a = new Sandbox('sigil-sync-bench-a-');
  const b = new Sandbox('sigil-sync-bench-b-');
  try {
    const agentA = await a.startAgent();
    await a.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: PASSPHRASE });
    await fillVault(a);
    await a.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE });
    await a.sigil(['sync', 'init', remote, '--name', 'a']);
    const agentB = await b.startAgent();
    const joined = await b.sigil(['join', remote, '--name', 'b', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: PASSPHRASE });
    await a.sigil(['device', 'add', 'b', joined.stdout.trim()]);
    await b.sigil(['sync']);
    await b.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE });
    const ca = await AgentClient.connect({ socketPath: agentA.socket });
    const cb = await AgentClient.connect({ socketPath: agentB.socket });

    const syncMs = [];
    for (let round = 0; round < ROUNDS; round++) {
      await changeSecrets(cb, CHANGED, round);
      await b.sigil(['sync']);
      await changeSecrets(ca, 0, round);
      syncMs.push(await time(() => a.sigil(['sync'])));
      await b.sigil(['sync']);
    }
    // Both devices hold every change of every round.
    const check = await cb.request('get_secret', { name: `bench/s${CHANGED - 1}` });
    if (check.value !== `round-${ROUNDS - 1}-${CHANGED - 1}`) throw new Error('the merged vault lacks a change');

    // The same repository, plain git: two clones, a change each (files of their own: no conflict).
    const gitMs = [];
    const c = join(work, 'c');
    const d = join(work, 'd');
    git(work, ['clone', '--quiet', remote, c]);
    git(work, ['clone', '--quiet', remote, d]);
    const size = readFileSync(join(a.home, 'data/sigilforge/vault.age')).length;
    for (let round = 0; round < ROUNDS; round++) {
      writeFileSync(join(d, 'd.bin'), randomBytes(size));
      git(d, ['add', '-f', 'd.bin']);
      git(d, ['commit', '--quiet', '-m', `d ${round}`]);
      git(d, ['push', '--quiet', 'origin', 'main']);
      writeFileSync(join(c, 'c.bin'), randomBytes(size));
      git(c, ['add', '-f', 'c.bin']);
      git(c, ['commit', '--quiet', '-m', `c ${round}`]);
      gitMs.push(
        time(() => {
          git(c, ['pull', '--quiet', '--no-rebase', '--no-edit', 'origin', 'main']);
          git(c, ['push', '--quiet', 'origin', 'main']);
        }),
      );
      git(d, ['pull', '--quiet', '--no-rebase', '--no-edit', 'origin', 'main']);
    }

    // Informational: the least git does for a sync, a one-line change in each clone.
    const smallMs = [];
    for (let round = 0; round < ROUNDS; round++) {
      writeFileSync(join(d, 'd.txt'), `round ${round}\n`);
      git(d, ['add', '-f', 'd.txt']);
      git(d, ['commit', '--quiet', '-m', `d small ${round}`]);
      git(d, ['push', '--quiet', 'origin', 'main']);
      writeFileSync(join(c, 'c.txt'), `round ${round}\n`);
      git(c, ['add', '-f', 'c.txt']);
      git(c, ['commit', '--quiet', '-m', `c small ${round}`]);
      smallMs.push(
        time(() => {
          git(c, ['pull', '--quiet', '--no-rebase', '--no-edit', 'origin', 'main']);
          git(c, ['push', '--quiet', 'origin', 'main']);
        }),
      );
      git(d, ['pull', '--quiet', '--no-rebase', '--no-edit', 'origin', 'main']);
    }

    const unlockMs = [];
    for (let i = 0; i < ROUNDS; i++) {
      await a.sigil(['lock']);
      unlockMs.push(await time(() => a.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE })));
    }
    ca.close();
    cb.close();

    const s = summarize(syncMs);
    const g = summarize(gitMs);
    const u = summarize(unlockMs);
    const small = summarize(smallMs);
    const vaultBytes = readFileSync(join(a.home, 'data/sigilforge/vault.age')).length;
    const ratio = s.median / g.median;
    log(
      table(
        ['what (medians of ' + ROUNDS + ')', 'time', 'ratio'],
        [
          [`sigil sync, ${SECRETS.toLocaleString('en-US')} secrets, ${CHANGED} changed on each device`, fmt.ms(s.median, 0), fmt.x(ratio)],
          ['git pull && git push of the same repository, a file as large as the vault changed in each clone', fmt.ms(g.median, 0), '1.00×'],
          ['  (informational) git pull && git push, a one-line change in each clone', fmt.ms(small.median, 0), fmt.x(s.median / small.median)],
          [`sigil unlock of the merged vault (${(vaultBytes / 1024 / 1024).toFixed(1)} MiB, scrypt 2^10), CLI wall time`, fmt.ms(u.median, 0), ''],
        ],
      ),
    );
    log(`  goal: sigil sync ≤ ${SYNC_GOAL}× git pull && git push → ${ratio <= SYNC_GOAL ? 'MET' : 'NOT MET'}`);
    return { syncMs: s, gitMs: g, smallGitMs: small, unlockMs: u, ratio, met: ratio <= SYNC_GOAL, vaultBytes };
  } finally {
    killAll();
    a.cleanup();
    b.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runSyncBench().catch((err) => {
    console.error(err);
    killAll();
    process.exit(1);
  });
}
