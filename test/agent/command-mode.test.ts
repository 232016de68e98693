import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, eventually, Sandbox } from '../support/sandbox.js';
import { auditUntil, mode, parseShExports, running, sandboxEach, startSh } from './helpers.js';

/** Agents tied to a process: command mode (`sigil-agent CMD…`) and the foreground (-D, -d). */
describe('sigil-agent command mode and foreground', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const startS = (extra: string[] = []) => startSh(sb, extra);

  describe('command mode', () => {
    it('runs the command with the variables and a working agent, then stops that agent', async () => {
      const r = await sb.run(BIN.agent, ['sh', '-c', `echo "$SIGIL_AUTH_SOCK"; echo "$SIGIL_AGENT_PID"; ${process.execPath} ${BIN.sigil} status --json`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [sock, pidText, ...json] = r.stdout.split('\n');
      const pid = Number(pidText);
      sb.track(pid);
      const st = JSON.parse(json.join('\n')) as Record<string, unknown>;
      expect(st).toMatchObject({ locked: true, pid, socket: sock });
      // Its own private socket, not the shared default one.
      expect(sock).not.toBe(sb.socket);
      expect(existsSync(sb.socket)).toBe(false);
      // ssh-agent semantics: the agent lives exactly as long as the command; by the time
      // sigil-agent has exited, so has the agent, and its private directory is removed.
      expect(running(pid)).toBe(false);
      expect(existsSync(sock!)).toBe(false);
      expect(existsSync(dirname(sock!))).toBe(false);
    });

    it('passes the exit status through', async () => {
      const r = await sb.run(BIN.agent, ['sh', '-c', 'echo "$SIGIL_AGENT_PID"; exit 7']);
      sb.track(Number(r.stdout.trim()));
      expect(r.code).toBe(7);
      expect(running(Number(r.stdout.trim()))).toBe(false);
      const killed = await sb.run(BIN.agent, ['sh', '-c', 'kill -TERM $$']);
      expect(killed.code).toBe(128 + 15); // as a shell reports a command killed by a signal
      const missing = await sb.run(BIN.agent, ['/nonexistent/command']);
      expect(missing.code).toBe(127);
      expect(missing.stderr).toMatch(/nonexistent/);
    });

    it('stops the agent when sigil-agent itself is terminated', async () => {
      const bg = sb.spawnBackground(process.execPath, [BIN.agent, 'sh', '-c', 'echo "$SIGIL_AGENT_PID $$"; exec sleep 30']);
      await eventually(() => /^\d+ \d+\n/.test(bg.stdout));
      const [agentPid, cmdPid] = bg.stdout.trim().split(' ').map(Number) as [number, number];
      sb.track(agentPid);
      sb.track(cmdPid);
      expect(running(agentPid)).toBe(true);
      process.kill(bg.pid, 'SIGTERM');
      await bg.exited;
      await eventually(() => !running(agentPid), 5000);
      await eventually(() => !running(cmdPid), 5000);
    });

    it('stops the agent even when sigil-agent is SIGKILLed (no cleanup ran)', async () => {
      const bg = sb.spawnBackground(process.execPath, [BIN.agent, 'sh', '-c', 'echo "$SIGIL_AGENT_PID $$ $SIGIL_AUTH_SOCK"; exec sleep 30']);
      await eventually(() => /^\d+ \d+ \S+\n/.test(bg.stdout));
      const [agentText, cmdText, sock] = bg.stdout.trim().split(' ') as [string, string, string];
      const [agentPid, cmdPid] = [Number(agentText), Number(cmdText)];
      sb.track(agentPid);
      sb.track(cmdPid);
      process.kill(bg.pid, 'SIGKILL');
      await eventually(() => !running(agentPid), 5000);
      // The agent cleaned up what its parent could not: the socket and the private directory.
      expect(existsSync(sock)).toBe(false);
      expect(existsSync(dirname(sock))).toBe(false);
      process.kill(cmdPid, 'SIGKILL');
    });

    it('leaves no private directory behind when the agent cannot start', async () => {
      const tmp = join(sb.home, 'tmp');
      mkdirSync(tmp);
      mkdirSync(join(sb.home, 'config', 'sigilforge'), { recursive: true });
      writeFileSync(join(sb.home, 'config', 'sigilforge', 'config.toml'), '[agent]\nlock_timeout = "banana"\n');
      const r = await sb.run(BIN.agent, ['sh', '-c', 'echo ran'], { env: { TMPDIR: tmp } });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/lock_timeout/);
      expect(readdirSync(tmp)).toEqual([]);
      // And after a normal run, too.
      rmSync(join(sb.home, 'config', 'sigilforge', 'config.toml'));
      const ok = await sb.run(BIN.agent, ['sh', '-c', 'echo "$SIGIL_AGENT_PID"'], { env: { TMPDIR: tmp } });
      sb.track(Number(ok.stdout.trim()));
      expect(ok.code).toBe(0);
      expect(readdirSync(tmp)).toEqual([]);
    });

    it('refuses to run a command on an -a socket where an agent already answers', async () => {
      const { sock, pid } = await startS();
      const r = await sb.run(BIN.agent, ['-a', sock, 'sh', '-c', 'echo ran']);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`pid ${pid}`));
    });
  });

  describe('foreground (-D, -d)', () => {
    for (const [flag, signal] of [
      ['-D', 'SIGTERM'],
      ['-d', 'SIGINT'],
      ['-D', 'SIGHUP'],
    ] as const) {
      it(`${flag}: prints the exports, serves, and on ${signal} exits 0 and removes the socket`, async () => {
        const fg = sb.spawnBackground(process.execPath, [BIN.agent, flag, '-s']);
        await eventually(() => /SIGIL_AGENT_PID=\d+/.test(fg.stdout));
        const { sock, pid } = parseShExports(fg.stdout);
        expect(pid).toBe(fg.pid); // it did not fork
        expect(sock).toBe(sb.socket);
        expect(mode(sock)).toBe(0o600);
        expect((await sb.status()).pid).toBe(pid);
        if (flag === '-d') {
          expect(fg.stderr).toMatch(new RegExp(`sigil-agent\\[${pid}\\]: listening on ${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
          await eventually(() => /connection from pid \d+/.test(fg.stderr));
        } else {
          expect(fg.stderr).toBe('');
        }
        process.kill(pid, signal);
        expect(await fg.exited).toEqual({ code: 0, signal: null });
        expect(existsSync(sock)).toBe(false);
        const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'agent_stop'));
        expect(entries.find((x) => x.op === 'agent_stop')).toMatchObject({ target: signal, result: 'ok' });
        if (flag === '-d') expect(fg.stderr).toMatch(new RegExp(`shutting down \\(${signal}\\)`));
      });
    }

    it('refuses to start in the foreground over a live agent', async () => {
      const { pid } = await startS();
      const r = await sb.run(BIN.agent, ['-D']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`pid ${pid}`));
      expect(running(pid)).toBe(true);
    });
  });

});
