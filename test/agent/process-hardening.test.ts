/**
 * Secrets in core dumps: an aborting agent wrote a 107 MB core holding 5 copies of a secret.
 * The agent now sets RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 at start (src/agent/process-hardening.ts),
 * as ssh-agent does. Checked on the real process: its limits, what the kernel writes when it
 * aborts, and what another process of the same uid may read of it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, eventually, ROOT, Sandbox, which } from '../support/sandbox.js';
import { parseShExports, sandboxEach } from './helpers.js';

const MODULE = join(ROOT, 'dist/agent/process-hardening.js');
const IS_ROOT = process.getuid?.() === 0;
// Cores land in the crashing process's directory only with a plain file name as the pattern
// (not "|systemd-coredump", not an absolute path elsewhere).
const CORE_PATTERN = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
const CORES_IN_CWD = !/[|/]/.test(CORE_PATTERN);
// The control needs a core limit it may raise (the hard limit is not 0).
const CAN_UNLIMIT = spawnSync('sh', ['-c', 'ulimit -c unlimited']).status === 0;
const CAN_SWITCH = IS_ROOT && which('setpriv');

/** "Max core file size" soft and hard limits from /proc/PID/limits (readable by anyone). */
function coreLimits(pid: number | 'self'): [string, string] {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max core file size'));
  const [soft, hard] = line!.slice('Max core file size'.length).trim().split(/\s+/);
  return [soft!, hard!];
}

const coreFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('core'));

describe('process hardening (no core dumps, no same-uid ptrace)', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  it('hardenProcess() makes the process non-dumpable (prctl read back) with a core limit of 0', () => {
    const script = `
      import { dumpableFlag, hardenProcess } from ${JSON.stringify(MODULE)};
      import { readFileSync } from 'node:fs';
      const before = dumpableFlag();
      const { failed } = hardenProcess();
      const limits = readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max core file size'));
      console.log(JSON.stringify({ before, after: dumpableFlag(), failed, limits }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { before: number; after: number; failed: string[]; limits: string };
    expect(out).toMatchObject({ before: 1, after: 0, failed: [] });
    expect(out.limits.split(/\s+/).slice(4, 6)).toEqual(['0', '0']);
  });

  it('a background agent and a foreground (-D) one run with a core limit of 0', async () => {
    const r = await sb.run(BIN.agent, ['-s']);
    const daemon = parseShExports(r.stdout).pid;
    sb.track(daemon);
    expect(coreLimits(daemon)).toEqual(['0', '0']);
    expect(coreLimits('self')).not.toEqual(['0', '0']); // not merely inherited from here

    const fg = sb.spawnBackground(process.execPath, [BIN.agent, '-D', '-s', '-a', join(sb.home, 'fg.sock')]);
    await eventually(() => /SIGIL_AGENT_PID=/.test(fg.stdout));
    expect(coreLimits(fg.pid)).toEqual(['0', '0']);
  });

  it.runIf(CORES_IN_CWD && CAN_UNLIMIT)('an agent that aborts writes no core file, though started with core dumps on', async () => {
    const dir = join(sb.home, 'cwd');
    mkdirSync(dir);
    // Started as a shell with `ulimit -c unlimited` would start them: the limit is inherited.
    const unlimited = (argv: string[]) => sb.spawnBackground('sh', ['-c', 'ulimit -c unlimited && exec "$@"', 'sh', ...argv], { cwd: dir });
    // The control: plain node, same directory, same limit, same signal, leaves a core here.
    const control = unlimited([process.execPath, '-e', "console.log('ready'); setInterval(() => {}, 1000)"]);
    await eventually(() => control.stdout.includes('ready'));
    process.kill(control.pid, 'SIGABRT');
    expect((await control.exited).signal).toBe('SIGABRT');
    expect(coreFiles(dir)).not.toEqual([]);
    for (const f of coreFiles(dir)) rmSync(join(dir, f));

    const agent = unlimited([process.execPath, BIN.agent, '-D', '-s']);
    await eventually(() => /SIGIL_AGENT_PID=/.test(agent.stdout));
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'core-dump-canary' })).code).toBe(0);
    process.kill(agent.pid, 'SIGABRT');
    expect((await agent.exited).signal).toBe('SIGABRT');
    expect(coreFiles(dir)).toEqual([]);
  });

  it.runIf(CAN_SWITCH)("another process of the same user cannot read the agent's memory or environment", async () => {
    // The agent and a plain node process both run as nobody; so does what tries to read them.
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    expect(spawnSync('chown', ['-R', '65534:65534', sb.home]).status).toBe(0);
    const agent = sb.spawnBackground('setpriv', [...asNobody, process.execPath, BIN.agent, '-D', '-s', '-a', join(sb.home, 'nobody.sock')]);
    const plain = sb.spawnBackground('setpriv', [...asNobody, process.execPath, '-e', "console.log('ready'); setInterval(() => {}, 1000)"]);
    await eventually(() => /SIGIL_AGENT_PID=/.test(agent.stdout) && plain.stdout.includes('ready'));
    const readAsNobody = (path: string) => spawnSync('setpriv', [...asNobody, 'cat', path], { encoding: 'latin1' });
    expect(readAsNobody(`/proc/${plain.pid}/environ`).status).toBe(0); // the control
    for (const entry of ['environ', 'mem', 'maps']) {
      const r = readAsNobody(`/proc/${agent.pid}/${entry}`);
      expect(r.status, entry).not.toBe(0);
      expect(r.stderr, entry).toMatch(/Permission denied/);
    }
    // What sigil-agent -k, the vault lease and these tests read stays readable.
    for (const entry of ['cmdline', 'stat', 'status', 'limits']) expect(readAsNobody(`/proc/${agent.pid}/${entry}`).status, entry).toBe(0);
  });
});
