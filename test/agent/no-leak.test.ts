import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BIN, eventually, Sandbox, type RunResult } from '../support/sandbox.js';
import { parseShExports, sandboxEach } from './helpers.js';

/**
 * Secrets reach the agent only through stdin and leave it only on the stdout of the command
 * that asked for them. Everything else is collected during one run and searched: the audit
 * log, the -d agent's stderr, every command's stderr, the stdout of failing commands, `ps`
 * snapshots and the environment of every process taken while the commands ran.
 */
describe('no secret leaks', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  it('never shows a secret value outside the stdout that asked for it', async () => {
    const tag = randomBytes(6).toString('hex');
    const secrets = {
      passphrase: `pass-${tag}-phrase`,
      wrongPassphrase: `wrong-${tag}-phrase`,
      secret: `sekrit-${tag}-value`,
      token: `ghp_${tag}_tokenvalue`,
      other: `other-${tag}-value`,
    };

    const agent = sb.spawnBackground(process.execPath, [BIN.agent, '-d', '-s']);
    await eventually(() => /SIGIL_AGENT_PID=/.test(agent.stdout));
    expect(parseShExports(agent.stdout).pid).toBe(agent.pid);

    // ps snapshots, from a separate process, every 20 ms for the whole run.
    const ps = sb.spawnBackground('sh', ['-c', 'while :; do ps -eo pid,args; echo ---; sleep 0.02; done']);
    // The environment of every process, from here, as often as it gets round.
    const environs: string[] = [];
    let scanning = true;
    const scanner = (async () => {
      while (scanning) {
        for (const name of await readdir('/proc')) {
          if (!/^\d+$/.test(name)) continue;
          try {
            environs.push((await readFile(`/proc/${name}/environ`)).toString('latin1'));
          } catch {
            // exited meanwhile
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const results: { what: string; r: RunResult; mayPrint?: string }[] = [];
    const run = async (what: string, args: string[], input?: string, mayPrint?: string) => {
      const r = await sb.sigil(args, input === undefined ? {} : { input });
      results.push({ what, r, ...(mayPrint ? { mayPrint } : {}) });
      return r;
    };

    expect((await run('init', ['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], secrets.passphrase + '\n')).code).toBe(0);
    expect((await run('unlock wrong', ['unlock', '--passphrase-stdin'], secrets.wrongPassphrase + '\n')).code).toBe(5);
    expect((await run('unlock', ['unlock', '--passphrase-stdin'], secrets.passphrase + '\n')).code).toBe(0);
    expect((await run('secret set', ['secret', 'set', 'db/password', '--stdin'], secrets.secret)).code).toBe(0);
    expect((await run('secret set other', ['secret', 'set', 'api/key', '--stdin'], secrets.other + '\n')).code).toBe(0);
    expect((await run('token set', ['token', 'set', 'github', 'work', '--stdin'], secrets.token)).code).toBe(0);
    // Failures that have a value in hand: the value must not come back in the message.
    expect((await run('set existing', ['secret', 'set', 'db/password', '--stdin', '--no-overwrite'], secrets.other)).code).toBe(8);
    expect((await run('set bad name', ['secret', 'set', '../bad name', '--stdin'], secrets.other)).code).not.toBe(0);
    expect((await run('token bad service', ['token', 'set', 'Not A Service!', 'x', '--stdin'], secrets.other)).code).not.toBe(0);
    expect((await run('get missing', ['secret', 'get', 'nope'])).code).toBe(7);
    // Reads: the value on stdout is the one place it belongs.
    expect((await run('secret get', ['secret', 'get', 'db/password'], undefined, secrets.secret)).stdout).toBe(secrets.secret + '\n');
    expect((await run('secret get json', ['secret', 'get', 'api/key', '--json'], undefined, secrets.other)).stdout).toContain(secrets.other);
    expect((await run('resolve', ['resolve', 'secret://db/password'], undefined, secrets.secret)).stdout).toBe(secrets.secret + '\n');
    expect((await run('token get', ['token', 'get', 'github', 'work'], undefined, secrets.token)).stdout).toBe(secrets.token + '\n');
    const shim = await sb.token('github', 'work');
    expect(shim).toMatchObject({ code: 0, stdout: secrets.token + '\n' });
    results.push({ what: 'sigil-token', r: shim, mayPrint: secrets.token });
    expect((await run('list', ['secret', 'list'])).stdout).toBe('api/key\ndb/password\n');
    expect((await run('audit', ['audit', '-n', '100'])).code).toBe(0);
    expect((await run('audit json', ['audit', '-n', '100', '--json'])).code).toBe(0);
    expect((await run('lock', ['lock'])).code).toBe(0);
    expect((await run('get locked', ['secret', 'get', 'db/password'])).code).toBe(4);
    expect((await run('token locked', ['token', 'get', 'github', 'work'])).code).toBe(4);

    scanning = false;
    await scanner;
    process.kill(ps.pid, 'SIGKILL');
    await ps.exited;
    process.kill(agent.pid, 'SIGTERM');
    expect((await agent.exited).code).toBe(0);

    const values = Object.entries(secrets);
    const leaks: string[] = [];
    const search = (where: string, text: string, allowed?: string) => {
      for (const [name, value] of values) if (value !== allowed && text.includes(value)) leaks.push(`${name} in ${where}`);
    };
    for (const { what, r, mayPrint } of results) {
      search(`stderr of ${what}`, r.stderr);
      // A failing command prints nothing secret; a read prints its own value and nothing else.
      search(`stdout of ${what}`, r.stdout, r.code === 0 ? mayPrint : undefined);
    }
    search('agent stdout', agent.stdout);
    search('agent -d stderr', agent.stderr);
    search('audit log', await readFile(sb.auditPath, 'utf8'));
    search('ps snapshots', ps.stdout);
    search('/proc/*/environ', environs.join('\n'));
    expect(leaks).toEqual([]);

    // The net was really cast: the debug log talked, the audit saw the reads, ps caught the commands.
    expect(agent.stderr).toMatch(/connection from pid/);
    expect(await readFile(sb.auditPath, 'utf8')).toMatch(/"op":"get_secret","target":"secret:\/\/db\/password","result":"ok"/);
    expect(ps.stdout).toMatch(/dist\/bin\/sigil\.js (secret|token) (set|get)/);
    expect(environs.length).toBeGreaterThan(100);
  });
});
