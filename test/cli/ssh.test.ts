import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from '../oauth/flow-helpers.js';
import { auditUntil } from '../agent/helpers.js';
import { RawConn } from '../protocol/wire.js';
import { BIN, Sandbox, which } from '../support/sandbox.js';
import { checkRemoteCanRun, REMOTE_USER, sshdUnavailable, startSshd, type Sshd } from '../support/sshd.js';

/**
 * Forwarding end to end: a real sshd on 127.0.0.1 whose user is a second local account (the
 * "remote machine"), real `ssh -R` and `sigil ssh`. The agent must tell the forwarded caller
 * from a local one (it arrives from the local ssh process, as the user), serve only what
 * config.toml opens to forwarding, refuse the rest and every write, and say so in the audit.
 */
const unavailable = sshdUnavailable();
if (unavailable) console.warn(`test/cli/ssh.test.ts skipped: ${unavailable}`);

const CONFIG = `
[[policy]]
account = "github/ci"
forward = ["127.0.0.1"]
confirm = false

[[policy]]
secret = "ci/*"
forward = true
confirm = false

[[policy]]
account = "github/asked"
forward = true
`;

describe.skipIf(unavailable !== null)('forwarding over a real sshd', () => {
  let sshd: Sshd;
  let sb: Sandbox;
  let askLog: string;

  beforeAll(async () => {
    checkRemoteCanRun();
    sshd = await startSshd();
    sb = new Sandbox();
    writeConfig(sb, CONFIG);
    // Confirmations of forwarded uses (on unless the rule says confirm = false) go to this askpass: yes, logged.
    askLog = join(sb.home, 'asked.log');
    const askpass = join(sb.home, 'askpass');
    writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' "$1" >> ${askLog}\nexit 0\n`, { mode: 0o755 });
    await sb.startAgent([], { SIGIL_ASKPASS: askpass });
    await sb.initAndUnlock();
    for (const [account, value] of [
      ['ci', 'ghp_ci_token_0001'],
      ['work', 'ghp_work_token_0002'],
      ['asked', 'ghp_asked_token_0003'],
    ]) {
      expect((await sb.sigil(['token', 'set', 'github', account!, '--stdin'], { input: value + '\n' })).code).toBe(0);
    }
    expect((await sb.sigil(['secret', 'set', 'ci/npm', '--stdin'], { input: 'npm_secret_0004\n' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'set', 'db/prod', '--stdin'], { input: 'db_secret_0005\n' })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    sb?.cleanup();
    await sshd?.stop();
  });

  /** A remote shell command with the sigil binaries on its PATH (what installing sigil there would do). */
  const remote = (script: string) => `PATH=${sshd.binDir}:$PATH; ${script}`;

  /** Lines `key=value` the remote script printed. */
  const fields = (out: string): Record<string, string> =>
    Object.fromEntries(out.split('\n').flatMap((l) => {
      const m = /^(\w+)=(.*)$/.exec(l);
      return m ? [[m[1]!, m[2]!]] : [];
    }));

  it('sigil ssh: the remote shell has SIGIL_AUTH_SOCK; it gets the opened account, not the other; no write; the socket goes at the end', async () => {
    const r = await sb.sigil([
      'ssh',
      ...sshd.sshOptions,
      sshd.destination,
      remote(
        [
          'echo "sock=$SIGIL_AUTH_SOCK"',
          'echo "user=$(id -un)"',
          'echo "mode=$(stat -c %a "$(dirname "$SIGIL_AUTH_SOCK")")"',
          'echo "ci=$(sigil-token github ci)"',
          'sigil-token github work; echo "work=$?"',
          'echo "npm=$(sigil secret get ci/npm)"',
          'sigil secret get db/prod; echo "db=$?"',
          'printf x | sigil secret set ci/new --stdin; echo "set=$?"',
          'sigil audit -n 1; echo "audit=$?"',
          'exit 7',
        ].join('; '),
      ),
    ]);
    const f = fields(r.stdout);
    expect(f.user).toBe(REMOTE_USER);
    expect(f.sock).toMatch(/^\/tmp\/sigil-ssh\.\w{8}\/agent\.sock$/);
    expect(f.mode).toBe('700');
    expect(f.ci).toBe('ghp_ci_token_0001');
    expect(f.npm).toBe('npm_secret_0004');
    expect(f.work).toBe('12');
    expect(f.db).toBe('12');
    expect(f.set).toBe('12');
    expect(f.audit).toBe('12');
    expect(r.stdout).not.toContain('ghp_work_token_0002');
    expect(r.stdout).not.toContain('db_secret_0005');
    // Each refusal says how to allow it, or that it cannot be done from there.
    expect(r.stderr).toContain('github/work is not open to callers on other machines (this connection is forwarded over ssh from 127.0.0.1); to allow it, add to config.toml: [[policy]] account = "github/work" forward = ["127.0.0.1"]');
    expect(r.stderr).toContain('secret://db/prod is not open to callers on other machines');
    expect(r.stderr).toContain('set_secret is not available to a caller on another machine');
    expect(r.stderr).toContain('audit_tail is not available to a caller on another machine');
    expect(r.code).toBe(7); // the remote command's status
    expect(existsSync(f.sock!)).toBe(false);
    expect(existsSync(join(f.sock!, '..'))).toBe(false);
    expect((await sb.sigil(['secret', 'get', 'ci/new'])).code).toBe(7); // NOT_FOUND: it was never written

    const entries = await auditUntil(sb, (es) => es.some((e) => e.op === 'audit_tail'));
    const forwarded = entries.filter((e) => e.forwarded !== undefined);
    expect(forwarded.map((e) => [e.op, e.target, e.result, e.forwarded, e.exe])).toEqual(
      expect.arrayContaining([
        ['get_token', 'github/ci', 'ok', '127.0.0.1', '/usr/bin/ssh'],
        ['get_token', 'github/work', 'FORBIDDEN', '127.0.0.1', '/usr/bin/ssh'],
        ['get_secret', 'secret://ci/npm', 'ok', '127.0.0.1', '/usr/bin/ssh'],
        ['get_secret', 'secret://db/prod', 'FORBIDDEN', '127.0.0.1', '/usr/bin/ssh'],
        ['set_secret', 'secret://ci/new', 'FORBIDDEN', '127.0.0.1', '/usr/bin/ssh'],
        // Not an audited op, but a refusal of a forwarded caller is written down.
        ['audit_tail', undefined, 'FORBIDDEN', '127.0.0.1', '/usr/bin/ssh'],
      ]),
    );
    expect((await sb.sigil(['audit', '-n', '50'])).stdout).toMatch(/ get_token github\/ci ok sigil-token pid=\d+ forwarded=127\.0\.0\.1 \(ssh ← sigil ← /m);
    // The local CLI's own lines stay local.
    expect(entries.filter((e) => e.op === 'set_token').every((e) => e.forwarded === undefined)).toBe(true);
  }, 60_000);

  it.skipIf(!which('script'))('sigil ssh with no command: a login shell on a terminal, with SIGIL_AUTH_SOCK set', async () => {
    // script(1) gives sigil ssh a terminal, as a person typing would; the shell's input is ours.
    const argv = [process.execPath, BIN.sigil, 'ssh', ...sshd.sshOptions, sshd.destination].map((a) => `'${a}'`).join(' ');
    const r = await sb.exec('script', ['-qec', argv, '/dev/null'], {
      input: `PATH=${sshd.binDir}:$PATH; echo "tty=$(tty)"; echo "ci=$(sigil-token github ci)"; echo "sock=$SIGIL_AUTH_SOCK"; exit 5\n`,
    });
    // The terminal echoes the input and puts the shell's prompt ("$ ") before the first answer.
    const f = fields(r.stdout.replace(/\r/g, '').replace(/^\$ /gm, ''));
    expect(f.tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(f.ci).toBe('ghp_ci_token_0001');
    expect(f.sock).toMatch(/^\/tmp\/sigil-ssh\.\w{8}\/agent\.sock$/);
    expect(r.code).toBe(5);
    expect(existsSync(f.sock!)).toBe(false);
  }, 60_000);

  it('asks for a forwarded use the rule does not exempt, naming the host', async () => {
    const r = await sb.sigil(['ssh', ...sshd.sshOptions, sshd.destination, remote('sigil-token github asked')]);
    expect(r).toMatchObject({ code: 0, stdout: 'ghp_asked_token_0003\n' });
    expect(readFileSync(askLog, 'utf8')).toMatch(/^Allow sigil-token \(pid \d+\), \/usr\/bin\/ssh, on 127\.0\.0\.1 \(forwarded over ssh\) to use github\/asked\?$/m);
    await auditUntil(sb, (es) => es.some((e) => e.op === 'confirm' && e.target === 'github/asked via askpass' && e.forwarded === '127.0.0.1'));
  }, 60_000);

  it("the remote rc file's eval \"$(sigil-agent)\" keeps the forwarded agent (no agent of its own)", async () => {
    const r = await sb.sigil(['ssh', ...sshd.sshOptions, sshd.destination, remote('before=$SIGIL_AUTH_SOCK; eval "$(sigil-agent)"; echo "same=$([ "$SIGIL_AUTH_SOCK" = "$before" ] && echo yes)"; echo "pid=${SIGIL_AGENT_PID-unset}"; echo "ci=$(sigil-token github ci)"')]);
    expect(r.stderr).toBe('');
    expect(fields(r.stdout)).toEqual({ same: 'yes', pid: 'unset', ci: 'ghp_ci_token_0001' });
  }, 60_000);

  it('real ssh -R: the agent tells the forwarded caller by the ssh process and its destination', async () => {
    const sock = `/tmp/sigil-test-${process.pid}-${Date.now()}.sock`;
    try {
      const r = await sb.exec('ssh', [...sshd.sshOptions, '-o', 'ExitOnForwardFailure=yes', '-R', `${sock}:${sb.socket}`, sshd.destination, remote(`export SIGIL_AUTH_SOCK=${sock}; echo "ci=$(sigil-token github ci)"; sigil-token github work; echo "work=$?"; sigil status`)]);
      const f = fields(r.stdout);
      expect(f).toMatchObject({ ci: 'ghp_ci_token_0001', work: '12' });
      expect(r.stdout).toContain('socket:   forwarded over ssh (the agent sees this machine as 127.0.0.1)');
      expect(r.stdout).not.toContain(sb.socket);
    } finally {
      rmSync(sock, { force: true }); // sshd leaves a forwarded socket behind
    }
  }, 60_000);

  it('root on the remote machine, speaking the protocol to the forwarded socket itself, gets only what is opened', async () => {
    // A session that stays open until its stdin ends; meanwhile "remote root" (this test, uid 0) uses its socket.
    const child = spawn(process.execPath, [BIN.sigil, 'ssh', ...sshd.sshOptions, sshd.destination, 'echo "sock=$SIGIL_AUTH_SOCK"; read line'], { env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
    sb.track(child.pid!);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/^sock=.*$/m.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no remote socket: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const sock = /^sock=(.*)$/m.exec(out)![1]!;
      const conn = await RawConn.open(sock);
      try {
        let id = 0;
        const ask = async (op: string, args: Record<string, unknown> = {}) => {
          const a = await conn.call(++id, op, args);
          return a.ok ? { ok: true, result: a.result } : { ok: false, code: a.error?.code, message: a.error?.message };
        };
        expect(await ask('hello', { client: 'intruder', versions: [1] })).toMatchObject({ ok: true });
        expect(await ask('get_token', { service: 'github', account: 'ci' })).toMatchObject({ ok: true, result: { access_token: 'ghp_ci_token_0001' } });
        expect(await ask('get_token', { service: 'github', account: 'work' })).toMatchObject({ ok: false, code: 'FORBIDDEN' });
        expect(await ask('resolve', { ref: 'auth://github/ci/refresh_token' })).toMatchObject({ ok: false, code: 'FORBIDDEN' });
        expect(await ask('get_secret', { name: 'db/prod' })).toMatchObject({ ok: false, code: 'FORBIDDEN' });
        for (const [op, args] of [
          ['set_secret', { name: 'ci/evil', value: 'x' }],
          ['delete_secret', { name: 'ci/npm' }],
          ['set_token', { service: 'github', account: 'ci', access_token: 'evil' }],
          ['remove_account', { service: 'github', account: 'ci' }],
          ['start_flow', { service: 'github', account: 'ci' }],
          ['unlock', { passphrase: 'guess' }],
          ['passwd', { passphrase: 'a', new_passphrase: 'b' }],
          ['audit_tail', {}],
          ['list_accounts', {}],
          ['list_secrets', {}],
          ['wait_confirm', {}],
          ['answer_confirm', { confirm_id: 'x', allow: true }],
        ] as const) {
          expect(await ask(op, args), op).toMatchObject({ ok: false, code: 'FORBIDDEN' });
        }
        const status = await ask('status');
        expect(status).toMatchObject({ ok: true, result: { forwarded: '127.0.0.1' } });
        expect(status.result).not.toHaveProperty('socket');
        expect(status.result).not.toHaveProperty('vault_path');
        // lock is allowed: the worst a forwarded caller can do is make the owner unlock again.
        expect(await ask('lock')).toMatchObject({ ok: true });
      } finally {
        conn.close();
      }
      child.stdin!.end('\n');
      expect(await exited).toBe(0);
      expect(existsSync(sock)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect((await sb.sigil(['secret', 'get', 'ci/npm'])).code).toBe(4); // locked by the forwarded caller: exit LOCKED
    await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' });
  }, 60_000);

  it('sigil ssh without a host is a usage error; without an agent it starts nothing', async () => {
    expect(await sb.sigil(['ssh', '-p', '22'])).toMatchObject({ code: 2, stderr: 'sigil: missing the host: sigil ssh [ssh options] HOST [command]\n' });
    const logins = () => sshd.log().split('Accepted publickey').length;
    const before = logins();
    const none = await sb.sigil(['ssh', ...sshd.sshOptions, sshd.destination, 'true'], { env: { SIGIL_AUTH_SOCK: join(sb.home, 'nothing.sock') } });
    expect(none.code).toBe(3); // NO_AGENT, before ssh is run
    expect(none.stderr).toContain('nothing.sock');
    expect(logins()).toBe(before);
  }, 60_000);
});
