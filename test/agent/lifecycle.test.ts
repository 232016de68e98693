import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { agentPidsFor, parseShExports, running, sandboxEach, sleep, startSh } from './helpers.js';

/** Whether a SIGTERM sent to the process waits to be delivered (/proc/PID/status ShdPnd). */
function sigtermPending(pid: number): boolean {
  const mask = /^ShdPnd:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n; // bit SIGTERM - 1
}

/** Starting, reusing, replacing and stopping agents: -k, rc-file reuse, restart. */
describe('sigil-agent lifecycle', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const startS = (extra: string[] = []) => startSh(sb, extra);

  describe('-k', () => {
    it('kills the agent named by SIGIL_AGENT_PID, removes its socket and prints unset lines', async () => {
      const { sock, pid } = await startS();
      const r = await sb.run(BIN.agent, ['-k'], { env: { SIGIL_AGENT_PID: String(pid), SIGIL_AUTH_SOCK: sock } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`unset SIGIL_AUTH_SOCK;\nunset SIGIL_AGENT_PID;\necho Agent pid ${pid} killed;\n`);
      await eventually(() => !running(pid));
      await eventually(() => !existsSync(sock));
    });

    it('round-trips through sh: eval the start, eval the kill, the variables are gone', async () => {
      const agent = `${process.execPath} ${BIN.agent}`;
      const r = await sb.exec('sh', ['-c', `eval "$(${agent} -s)" >/dev/null; echo "$SIGIL_AGENT_PID"; eval "$(${agent} -k)"; echo "\${SIGIL_AUTH_SOCK-unset} \${SIGIL_AGENT_PID-unset}"`]);
      expect(r.stderr).toBe('');
      const [pidText, after] = r.stdout.split('\n');
      const pid = Number(pidText);
      sb.track(pid);
      expect(after).toMatch(/^Agent pid \d+ killed$/);
      expect(r.stdout.split('\n')[2]).toBe('unset unset');
      await eventually(() => !running(pid));
      expect(existsSync(sb.socket)).toBe(false);
    });

    it('speaks csh and fish too', async () => {
      const { pid } = await startS();
      const csh = await sb.run(BIN.agent, ['-c', '-k'], { env: { SIGIL_AGENT_PID: String(pid) } });
      expect(csh.stdout).toBe(`unsetenv SIGIL_AUTH_SOCK;\nunsetenv SIGIL_AGENT_PID;\necho Agent pid ${pid} killed;\n`);
      await eventually(() => !running(pid));
      const again = await startS();
      const fish = await sb.run(BIN.agent, ['--fish', '-k'], { env: { SIGIL_AGENT_PID: String(again.pid) } });
      expect(fish.stdout).toBe(`set -e SIGIL_AUTH_SOCK;\nset -e SIGIL_AGENT_PID;\necho Agent pid ${again.pid} killed;\n`);
      await eventually(() => !running(again.pid));
    });

    it('fails clearly without SIGIL_AGENT_PID, killing nothing', async () => {
      const { pid } = await startS();
      const r = await sb.run(BIN.agent, ['-k']);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/SIGIL_AGENT_PID/);
      const bad = await sb.run(BIN.agent, ['-k'], { env: { SIGIL_AGENT_PID: 'banana' } });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/SIGIL_AGENT_PID/);
      expect(running(pid)).toBe(true);
    });

    it('returns only once the agent is gone (it used to return while the agent still ran)', async () => {
      const { sock, pid } = await startS();
      // Held still until -k's SIGTERM is pending, the agent exits after -k has sent it,
      // however fast this machine is.
      process.kill(pid, 'SIGSTOP');
      const k = sb.run(BIN.agent, ['-k'], { env: { SIGIL_AGENT_PID: String(pid) } });
      await eventually(() => sigtermPending(pid));
      // A -k that does not wait has returned by now (and the agent still runs, stopped); one
      // that waits is still polling, and sees the agent go once it runs again.
      const returnedEarly = await Promise.race([k.then(() => true), sleep(1000).then(() => false)]);
      if (!returnedEarly) process.kill(pid, 'SIGCONT');
      const r = await k; // (a stopped agent left behind is SIGKILLed by the clean-up)
      expect(r).toMatchObject({ code: 0, stderr: '' });
      // No waiting here: by the time -k has returned, the process and its socket are gone.
      expect(running(pid)).toBe(false);
      expect(existsSync(sock)).toBe(false);
      expect(returnedEarly).toBe(false);
    });

    it('eval "$(sigil-agent -k)"; eval "$(sigil-agent)" starts a fresh agent every time (5 in a row)', async () => {
      const agent = `${process.execPath} ${BIN.agent} -s`;
      const r = await sb.exec('sh', [
        '-c',
        `eval "$(${agent})" >/dev/null; echo "$SIGIL_AGENT_PID"
         for i in 1 2 3 4 5; do eval "$(${agent} -k)" >/dev/null; eval "$(${agent})" >/dev/null; echo "$SIGIL_AGENT_PID"; done`,
      ]);
      const pids = r.stdout.trim().split('\n').map(Number);
      for (const pid of pids) if (pid > 0) sb.track(pid);
      expect(r.stderr).toBe('');
      expect(pids).toHaveLength(6);
      expect(new Set(pids).size).toBe(6); // never the dying agent again
      for (const old of pids.slice(0, -1)) expect(running(old)).toBe(false);
      expect(agentPidsFor(sb.socket)).toEqual([pids[5]]);
      expect((await sb.status()).pid).toBe(pids[5]);
    });

    it('says so, and unsets nothing, when the agent has not exited within 5 s', async () => {
      const { pid } = await startS();
      process.kill(pid, 'SIGSTOP'); // a stopped process keeps the SIGTERM pending
      try {
        const r = await sb.run(BIN.agent, ['-k'], { env: { SIGIL_AGENT_PID: String(pid) } });
        expect(r.code).not.toBe(0);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(new RegExp(`pid ${pid}\\) still runs 5 s after SIGTERM`));
        expect(running(pid)).toBe(true);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await eventually(() => !running(pid)); // the pending SIGTERM ends it once it runs again
    });

    it('does not kill a process that is not a sigil-agent (a stale SIGIL_AGENT_PID)', async () => {
      const other = sb.spawnBackground('sleep', ['30']);
      const r = await sb.run(BIN.agent, ['-k'], { env: { SIGIL_AGENT_PID: String(other.pid) } });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/not a sigil-agent/);
      expect(running(other.pid)).toBe(true);
    });
  });

  describe('rc-file reuse', () => {
    it('a second -s reuses the live agent: same pid, one process, no announcement', async () => {
      const first = await startS();
      expect(first.stdout).toMatch(/^echo Agent pid \d+;$/m);
      const second = await startS();
      expect(second.pid).toBe(first.pid);
      expect(second.sock).toBe(first.sock);
      expect(second.stdout).not.toMatch(/echo Agent pid/);
      expect(agentPidsFor(sb.socket)).toEqual([first.pid]);
    });

    it('replaces a stale socket left by a SIGKILLed agent', async () => {
      const first = await startS();
      process.kill(first.pid, 'SIGKILL');
      await eventually(() => !running(first.pid));
      expect(lstatSync(sb.socket).isSocket()).toBe(true); // left behind
      const second = await startS();
      expect(second.pid).not.toBe(first.pid);
      expect((await sb.status()).pid).toBe(second.pid);
      expect(agentPidsFor(sb.socket)).toEqual([second.pid]);
    });

    it('refuses, and keeps, a regular file at the socket path', async () => {
      mkdirSync(dirname(sb.socket), { recursive: true, mode: 0o700 });
      writeFileSync(sb.socket, 'not a socket\n');
      const r = await sb.run(BIN.agent, ['-s']);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/not a socket/);
      expect(readFileSync(sb.socket, 'utf8')).toBe('not a socket\n');
      expect(agentPidsFor(sb.socket)).toEqual([]);
    });

    it('concurrent starts share one agent', async () => {
      const results = await Promise.all([1, 2, 3].map(() => sb.run(BIN.agent, ['-s'])));
      const pids = results.map((r) => {
        const m = /SIGIL_AGENT_PID=(\d+)/.exec(r.stdout);
        if (m) sb.track(Number(m[1]));
        return { code: r.code, stderr: r.stderr, pid: m ? Number(m[1]) : null };
      });
      for (const p of pids) expect(p).toMatchObject({ code: 0, stderr: '' });
      expect(new Set(pids.map((p) => p.pid)).size).toBe(1);
      await eventually(() => agentPidsFor(sb.socket).length === 1);
      expect(agentPidsFor(sb.socket)).toEqual([pids[0]!.pid]);
    });

    it('concurrent starts over a stale socket share one agent', async () => {
      const old = await startS();
      process.kill(old.pid, 'SIGKILL');
      await eventually(() => !running(old.pid));
      const results = await Promise.all([1, 2, 3].map(() => sb.run(BIN.agent, ['-s'])));
      const pids = results.map((r) => {
        const m = /SIGIL_AGENT_PID=(\d+)/.exec(r.stdout);
        if (m) sb.track(Number(m[1]));
        return { code: r.code, stderr: r.stderr, pid: m ? Number(m[1]) : null };
      });
      for (const p of pids) expect(p).toMatchObject({ code: 0, stderr: '' });
      expect(new Set(pids.map((p) => p.pid)).size).toBe(1);
      // Stragglers that lost the race must have exited, not kept listening on an unlinked path.
      await eventually(() => agentPidsFor(sb.socket).length === 1);
      expect((await sb.status()).pid).toBe(pids[0]!.pid);
    });
  });

  describe('an agent at SIGIL_AUTH_SOCK (it used to be replaced by a new one on the default socket)', () => {
    const other = () => join(sb.home, 'other.sock');

    it('an -a agent named by SIGIL_AUTH_SOCK is kept: its variables are printed, nothing starts', async () => {
      const a = await startS(['-a', other()]);
      const r = await sb.run(BIN.agent, ['-s'], { env: { SIGIL_AUTH_SOCK: other() } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`SIGIL_AUTH_SOCK=${other()}; export SIGIL_AUTH_SOCK;\nSIGIL_AGENT_PID=${a.pid}; export SIGIL_AGENT_PID;\n`);
      expect(existsSync(sb.socket)).toBe(false);
      expect(agentPidsFor(sb.socket)).toEqual([]);
    });

    it('a symlink named by SIGIL_AUTH_SOCK is printed as it is, with the agent behind it', async () => {
      const a = await startS(['-a', other()]);
      const link = join(sb.home, 'link.sock');
      symlinkSync(other(), link);
      const r = await sb.run(BIN.agent, ['-s'], { env: { SIGIL_AUTH_SOCK: link } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(parseShExports(r.stdout)).toEqual({ sock: link, pid: a.pid });
      expect(existsSync(sb.socket)).toBe(false);
    });

    it('a forwarded agent (another process relays the socket, as sshd does) is kept, and SIGIL_AGENT_PID unset', async () => {
      const a = await startS(['-a', other()]);
      // The relay listens and passes bytes on, as `ssh -R` forwarding does: the listener on the
      // socket is not the agent, and the pid the agent names is not the listener's.
      const forwarded = join(sb.home, 'forwarded.sock');
      const relay = createServer((c) => {
        const up = connect(other());
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => relay.listen(forwarded, r));
      try {
        const r = await sb.run(BIN.agent, ['-s'], { env: { SIGIL_AUTH_SOCK: forwarded, SIGIL_AGENT_PID: '4242' } });
        expect(r).toMatchObject({ code: 0, stderr: '' });
        expect(r.stdout).toBe(`SIGIL_AUTH_SOCK=${forwarded}; export SIGIL_AUTH_SOCK;\nunset SIGIL_AGENT_PID;\n`);
        const csh = await sb.run(BIN.agent, ['-c'], { env: { SIGIL_AUTH_SOCK: forwarded } });
        expect(csh.stdout).toBe(`setenv SIGIL_AUTH_SOCK ${forwarded};\nunsetenv SIGIL_AGENT_PID;\n`);
        expect(existsSync(sb.socket)).toBe(false);
        expect(running(a.pid)).toBe(true);
      } finally {
        relay.close();
      }
    });

    it('a SIGIL_AUTH_SOCK nobody answers on (an agent that has gone) starts one on the default socket as before', async () => {
      const a = await startS(['-a', other()]);
      process.kill(a.pid, 'SIGKILL');
      await eventually(() => !running(a.pid));
      const fresh = await startSh(sb, [], { SIGIL_AUTH_SOCK: other() });
      expect(fresh.sock).toBe(sb.socket);
      expect(fresh.pid).not.toBe(a.pid);
      expect(agentPidsFor(sb.socket)).toEqual([fresh.pid]);
    });

    it('something that is not a Sigilforge agent at SIGIL_AUTH_SOCK is passed over', async () => {
      const notAgent = createServer((c) => c.end()); // accepts, answers nothing, hangs up
      await new Promise<void>((r) => notAgent.listen(other(), r));
      try {
        const fresh = await startSh(sb, [], { SIGIL_AUTH_SOCK: other() });
        expect(fresh.sock).toBe(sb.socket);
        expect(agentPidsFor(sb.socket)).toEqual([fresh.pid]);
      } finally {
        notAgent.close();
      }
    });
  });

  it('restart keeps the data: SIGTERM, start again, unlock', async () => {
    const first = await startS();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'restart-secret-value' })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_restart_token' })).code).toBe(0);
    process.kill(first.pid, 'SIGTERM');
    await eventually(() => !running(first.pid));
    expect(existsSync(sb.socket)).toBe(false);

    const second = await startS();
    expect(second.pid).not.toBe(first.pid);
    const locked = await sb.status();
    expect(locked).toMatchObject({ locked: true, secrets: null, pid: second.pid });
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    expect(await sb.sigil(['secret', 'get', 'db/password'])).toMatchObject({ code: 0, stdout: 'restart-secret-value\n' });
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: 'ghp_restart_token\n', stderr: '' });
    expect(await sb.status()).toMatchObject({ locked: false, accounts: 1, secrets: expect.any(Number) });
  });

  it('refuses a socket path it could not export safely', async () => {
    const r = await sb.run(BIN.agent, ['-s', '-a', join(sb.home, 'new\nline.sock')]);
    const started = /SIGIL_AGENT_PID=(\d+)/.exec(r.stdout);
    if (started) sb.track(Number(started[1])); // killed by cleanup() should it start after all
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/socket path/);
  });
});
