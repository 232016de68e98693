import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestFrame } from '../../src/client/wire.js';
import { BIN, eventually, Sandbox, which } from '../support/sandbox.js';
import { auditUntil, killStrayAgents, mode, sandboxEach } from './helpers.js';

/**
 * Another uid on the socket. The tests run as root; the client is run as `nobody` by
 * setpriv, with CAP_DAC_OVERRIDE handed down as an ambient capability so that it gets past
 * the 0700 directory and the 0600 socket — the only way another user can reach the socket at
 * all — and the agent's own SO_PEERCRED check is what has to refuse it.
 */
const NOBODY_UID = 65534;
const CAN_SWITCH = process.getuid?.() === 0 && which('setpriv');

/** `script` may be a node flag (`-e`): its arguments follow. */
function asNobody(withDacOverride: boolean, script: string, args: string[]): [string, string[]] {
  const caps = withDacOverride ? ['--inh-caps=+dac_override', '--ambient-caps=+dac_override'] : [];
  return ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...caps, process.execPath, script, ...args]];
}

describe.runIf(CAN_SWITCH)('peer check (another uid)', () => {
  let sb: Sandbox;
  let sock: string;
  let agentPid: number;
  beforeEach(async () => {
    sb = new Sandbox();
    sock = join(sb.home, 'peer', 'agent.sock');
    agentPid = await sb.startAgent(['-a', sock]);
    expect(mode(join(sb.home, 'peer'))).toBe(0o700);
    expect(mode(sock)).toBe(0o600);
  });
  afterEach(() => {
    killStrayAgents(sb);
    sb.cleanup();
  });

  it('refuses a client of another uid that got past the file modes, and audits it', async () => {
    const env = { SIGIL_AUTH_SOCK: sock };
    // Sigilforge's own clients refuse first, from their side: the agent is not theirs. They
    // hang up at once, so the agent's refusal frame meets a closed socket (EPIPE): that
    // killed the agent until its refused sockets had an error handler.
    const [cmd, args] = asNobody(true, BIN.sigil, ['status', '--json']);
    const r = await sb.exec(cmd, args, { env });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sigil: refusing the agent at SIGIL_AUTH_SOCK=.*: it runs as root \(uid 0, pid \d+\), not as you \(nobody, uid 65534\); nothing was sent\n$/);
    expect(r.code).toBe(12);

    // A client that does not check (its own protocol code) reaches the agent, whose own
    // SO_PEERCRED check is what has to refuse it: FORBIDDEN frames, nothing acted on.
    const raw = `const net = require('node:net'); const s = net.connect(process.argv[1]);
      s.on('connect', () => s.write(Buffer.from(process.argv[2], 'hex'))); s.on('error', () => {});
      let got = Buffer.alloc(0); s.on('data', (d) => (got = Buffer.concat([got, d])));
      s.on('close', () => { process.stdout.write(got.toString('latin1')); });`;
    const request = Buffer.concat([requestFrame(1, 'get_token', { service: 'github', account: 'work' })]).toString('hex');
    for (let i = 0; i < 2; i++) {
      const out = await sb.exec(...asNobody(true, '-e', [raw, sock, request]), { env });
      expect(out.stdout).toMatch(/FORBIDDEN/);
      expect(out.stdout).toMatch(/connections from another user are refused/);
    }

    const entries = await auditUntil(sb, (e) => e.filter((x) => x.op === 'connect').length >= 2);
    const refused = entries.filter((x) => x.op === 'connect');
    for (const e of refused) expect(e).toMatchObject({ op: 'connect', result: 'FORBIDDEN', uid: NOBODY_UID, pid: expect.any(Number) });
    // Nothing the refused peer sent was acted on.
    expect(entries.filter((x) => x.op === 'get_token')).toEqual([]);

    // The agent is unharmed and still serves its owner.
    expect(await sb.status(env)).toMatchObject({ pid: agentPid, locked: true });
  });

  it('without the capability the 0600 socket already keeps the other uid out', async () => {
    const r = await sb.exec(...asNobody(false, BIN.sigil, ['status']), { env: { SIGIL_AUTH_SOCK: sock } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/permission denied/);
    await new Promise((res) => setTimeout(res, 200)); // past the audit log's flush interval
    expect(sb.auditEntries().filter((x) => x.op === 'connect')).toEqual([]);
  });
});

describe('socket directory and socket modes', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const socketDir = () => join(sb.home, 'run', 'sigilforge');

  it('directory 0700 and socket 0600 from the moment the socket exists, whatever the umask', async () => {
    // A watcher spins on lstat from before the agent starts and reports the first modes it
    // sees: a chmod after bind() would show up here as a wider first mode.
    const watcher = sb.spawnBackground(process.execPath, [
      '-e',
      `const fs = require('fs'); const [sock, dir] = process.argv.slice(1); const end = Date.now() + 10000;
       for (;;) { try { const s = fs.lstatSync(sock); const d = fs.lstatSync(dir);
         console.log((s.mode & 0o777).toString(8), (d.mode & 0o777).toString(8)); break; } catch {}
         if (Date.now() > end) { console.log('timeout'); break; } }`,
      sb.socket,
      socketDir(),
    ]);
    const r = await sb.exec('sh', ['-c', `umask 000; exec ${process.execPath} ${BIN.agent} -s`]);
    expect(r.code).toBe(0);
    sb.track(Number(/SIGIL_AGENT_PID=(\d+)/.exec(r.stdout)![1]));
    await watcher.exited;
    expect(watcher.stdout).toBe('600 700\n');
    expect(mode(sb.socket)).toBe(0o600);
    expect(mode(socketDir())).toBe(0o700);
  });

  it('-a creates a missing directory 0700', async () => {
    const sock = join(sb.home, 'fresh', 'deeper', 'a.sock');
    await sb.startAgent(['-a', sock]);
    expect(mode(join(sb.home, 'fresh', 'deeper'))).toBe(0o700);
    expect(mode(sock)).toBe(0o600);
  });

  it('tightens an existing default socket directory that is 0755', async () => {
    await sb.exec('sh', ['-c', `mkdir -p '${socketDir()}' && chmod 755 '${socketDir()}'`]);
    expect(mode(socketDir())).toBe(0o755);
    await sb.startAgent();
    expect(mode(socketDir())).toBe(0o700);
    expect(mode(sb.socket)).toBe(0o600);
  });

  it.runIf(process.getuid?.() === 0)('refuses a default socket directory owned by another uid', async () => {
    await sb.exec('sh', ['-c', `mkdir -p '${socketDir()}' && chmod 700 '${socketDir()}' && chown ${NOBODY_UID} '${socketDir()}'`]);
    const r = await sb.run(BIN.agent, ['-s']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/belongs to uid 65534/);
    expect(r.code).toBe(12); // FORBIDDEN
    expect(existsSync(sb.socket)).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)('does not hand out an agent found in a default directory owned by another uid', async () => {
    // Someone else made the directory and runs something that answers on the socket there.
    await sb.exec('sh', ['-c', `mkdir -p '${socketDir()}' && chown ${NOBODY_UID} '${socketDir()}'`]);
    const impostor = sb.spawnBackground(process.execPath, [BIN.agent, '-D', '-s', '-a', sb.socket]);
    await eventually(() => /SIGIL_AGENT_PID=/.test(impostor.stdout));
    const r = await sb.run(BIN.agent, ['-s']);
    expect(r.stdout).not.toMatch(/SIGIL_AUTH_SOCK/);
    expect(r.stderr).toMatch(/belongs to uid 65534/);
    expect(r.code).not.toBe(0);
  });

  it('refuses a default socket directory that is a symlink', async () => {
    await sb.exec('sh', ['-c', `mkdir -p '${sb.home}/elsewhere' '${sb.home}/run' && ln -s '${sb.home}/elsewhere' '${socketDir()}'`]);
    const r = await sb.run(BIN.agent, ['-s']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not a directory/);
    expect(existsSync(join(sb.home, 'elsewhere', 'agent.sock'))).toBe(false);
  });
});
