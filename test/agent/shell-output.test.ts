import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, isAlive, Sandbox, which } from '../support/sandbox.js';
import { sandboxEach } from './helpers.js';

/**
 * The shell code `sigil-agent` prints is eval'd by real shells: sh for -s, tcsh for -c, fish
 * for --fish, and the dialect guessed from $SHELL. Every agent started is tracked by the pid
 * the shell saw, so cleanup() kills it.
 */
const HAVE_TCSH = which('tcsh');
const HAVE_FISH = which('fish');

describe('sigil-agent shell output', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  /** Parses "SOCK PID" printed by a shell after eval, and tracks the pid. */
  function sockAndPid(out: string): { sock: string; pid: number } {
    const m = /^(\S+) (\d+)\n$/.exec(out);
    if (!m) throw new Error(`unexpected shell output: ${JSON.stringify(out)}`);
    const pid = Number(m[2]);
    sb.track(pid);
    return { sock: m[1]!, pid };
  }

  it('-s output eval’d by sh exports a live agent’s socket and pid', async () => {
    const r = await sb.exec('sh', ['-c', `eval "$(${process.execPath} ${BIN.agent} -s)" >/dev/null; echo "$SIGIL_AUTH_SOCK $SIGIL_AGENT_PID"`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { sock, pid } = sockAndPid(r.stdout);
    expect(sock).toBe(sb.socket);
    expect(isAlive(pid)).toBe(true);
    // The exported variables are what a client uses: status answers from that very pid.
    const st = await sb.status({ SIGIL_AUTH_SOCK: sock });
    expect(st.pid).toBe(pid);
    expect(st.socket).toBe(sock);
  });

  it.runIf(HAVE_TCSH)('-c output eval’d by real tcsh sets the variables', async () => {
    const r = await sb.exec('tcsh', ['-f', '-c', `eval "\`${process.execPath} ${BIN.agent} -c\`"; echo "$SIGIL_AUTH_SOCK $SIGIL_AGENT_PID"`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { sock, pid } = sockAndPid(r.stdout.replace(/^Agent pid \d+\n/, ''));
    expect(sock).toBe(sb.socket);
    expect((await sb.status()).pid).toBe(pid);
  });

  it.runIf(HAVE_FISH)('--fish output sourced by real fish sets the variables', async () => {
    const r = await sb.exec('fish', ['-N', '-c', `${process.execPath} ${BIN.agent} --fish | source; echo "$SIGIL_AUTH_SOCK $SIGIL_AGENT_PID"`]);
    expect(r.code).toBe(0);
    const { sock, pid } = sockAndPid(r.stdout.replace(/^Agent pid \d+\n/, ''));
    expect(sock).toBe(sb.socket);
    expect((await sb.status()).pid).toBe(pid);
  });

  it('guesses the dialect from $SHELL when none is given', async () => {
    const first = await sb.run(BIN.agent, [], { env: { SHELL: '/bin/tcsh' } });
    expect(first.code).toBe(0);
    const pid = Number(/SIGIL_AGENT_PID (\d+);/.exec(first.stdout)?.[1]);
    sb.track(pid);
    expect(first.stdout).toMatch(/^setenv SIGIL_AUTH_SOCK \S+;\nsetenv SIGIL_AGENT_PID \d+;\n/);
    expect(first.stdout).not.toMatch(/export/);

    // The same (reused) agent, in every other dialect: no second agent is started.
    const csh = await sb.run(BIN.agent, [], { env: { SHELL: '/usr/local/bin/csh' } });
    expect(csh.stdout).toBe(`setenv SIGIL_AUTH_SOCK ${sb.socket};\nsetenv SIGIL_AGENT_PID ${pid};\n`);
    const fish = await sb.run(BIN.agent, [], { env: { SHELL: '/usr/bin/fish' } });
    expect(fish.stdout).toBe(`set -gx SIGIL_AUTH_SOCK ${sb.socket};\nset -gx SIGIL_AGENT_PID ${pid};\n`);
    const bash = await sb.run(BIN.agent, [], { env: { SHELL: '/bin/bash' } });
    expect(bash.stdout).toBe(`SIGIL_AUTH_SOCK=${sb.socket}; export SIGIL_AUTH_SOCK;\nSIGIL_AGENT_PID=${pid}; export SIGIL_AGENT_PID;\n`);
    // An explicit flag beats $SHELL.
    const forced = await sb.run(BIN.agent, ['-s'], { env: { SHELL: '/bin/tcsh' } });
    expect(forced.stdout).toBe(bash.stdout);

    if (HAVE_TCSH) {
      const r = await sb.exec('tcsh', ['-f', '-c', `eval "\`${process.execPath} ${BIN.agent}\`"; printenv SIGIL_AGENT_PID`], { env: { SHELL: '/bin/tcsh' } });
      expect(r).toMatchObject({ code: 0, stdout: `${pid}\n`, stderr: '' });
    }
  });

  it('quotes an -a path with spaces, quotes and shell metacharacters for sh, tcsh and fish', async () => {
    // Everything a shell might expand or split on: blanks, both quotes, $, !, \, `, ;, *, ~.
    const dir = join(sb.home, `it's a "dir" $HOME !x \\\\y \`z\` ;*~`);
    mkdirSync(dir);
    const sock = join(dir, 'a.sock');
    // tcsh substitutes $P inside "`…`" before running the command, so the agent is started
    // through a small sh wrapper that reads the path from the environment.
    const wrapper = join(sb.home, 'agent-with-path.sh');
    writeFileSync(wrapper, `exec ${process.execPath} ${BIN.agent} "$@" -a "$P"\n`);
    const env = { P: sock };

    const sh = await sb.exec('sh', ['-c', `eval "$(sh ${wrapper} -s)"; printenv SIGIL_AUTH_SOCK; printenv SIGIL_AGENT_PID`], { env });
    expect(sh.stderr).toBe('');
    expect(sh.code).toBe(0);
    const lines = sh.stdout.replace(/^Agent pid \d+\n/, '').split('\n');
    expect(lines[0]).toBe(sock);
    const pid = Number(lines[1]);
    sb.track(pid);
    expect(isAlive(pid)).toBe(true);
    expect((await sb.status({ SIGIL_AUTH_SOCK: sock })).pid).toBe(pid);

    if (HAVE_TCSH) {
      const r = await sb.exec('tcsh', ['-f', '-c', `eval "\`sh ${wrapper} -c\`"; printenv SIGIL_AUTH_SOCK; printenv SIGIL_AGENT_PID`], { env });
      expect(r.stderr).toBe('');
      expect(r).toMatchObject({ code: 0, stdout: `${sock}\n${pid}\n` });
    }
    if (HAVE_FISH) {
      const r = await sb.exec('fish', ['-N', '-c', `sh ${wrapper} --fish | source; printenv SIGIL_AUTH_SOCK; printenv SIGIL_AGENT_PID`], { env });
      expect(r).toMatchObject({ code: 0, stdout: `${sock}\n${pid}\n` });
    }
  });
});
