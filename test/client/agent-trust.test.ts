import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, eventually, ROOT, Sandbox, which, type Background } from '../support/sandbox.js';
import { killStrayAgents, sandboxEach } from '../agent/helpers.js';
import { shQuote, TmuxPane } from '../support/tmux.js';
import { C_TOKEN, NATIVE_TOKEN } from '../support/token-programs.js';

/**
 * Clients trust whatever listens at the socket path (issue: another local user creates
 * /tmp/sigilforge-UID/ first and listens there). Every transport must check that the agent
 * runs as its own uid before it sends a byte. The impostor runs as `nobody`, answers every
 * frame with success and an attacker's token, and logs every byte that reaches it.
 */
const NOBODY_UID = 65534;
const CAN_SWITCH = process.getuid?.() === 0 && which('setpriv');
const GIT_HELPER = join(ROOT, 'dist/bin/git-credential-sigil.js');

describe.runIf(CAN_SWITCH)('clients refuse an agent of another uid, sending nothing', () => {
  let sb: Sandbox;
  let evil: string;
  let sock: string;
  let log: string;
  let impostor: Background;

  /** The impostor listening on `path`, in a directory only nobody can write. */
  async function startImpostor(path: string): Promise<void> {
    impostor = sb.spawnBackground('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, join(evil, 'impostor.mjs'), path, log]);
    await eventually(() => impostor.stdout.includes('listening'));
  }

  beforeEach(() => {
    sb = new Sandbox();
    evil = mkdtempSync(join(tmpdir(), 'sigil-impostor-'));
    // The script must be readable where nobody can reach it; it imports from this checkout.
    const script = readFileSync(join(ROOT, 'test/support/impostor-agent.mjs'), 'utf8').replace("'@msgpack/msgpack'", JSON.stringify(join(ROOT, 'node_modules/@msgpack/msgpack/dist.esm/index.mjs')));
    const scriptPath = join(evil, 'impostor.mjs');
    writeFileSync(scriptPath, script);
    chmodSync(scriptPath, 0o644);
    chownSync(evil, NOBODY_UID, NOBODY_UID);
    chmodSync(evil, 0o755);
    sock = join(evil, 'agent.sock');
    log = join(evil, 'received.log');
  });
  afterEach(() => {
    killStrayAgents(sb);
    sb.cleanup();
    rmSync(evil, { recursive: true, force: true });
  });

  const received = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  const refusal = (path: string, viaEnv: boolean) =>
    new RegExp(
      `refusing the agent at ${viaEnv ? 'SIGIL_AUTH_SOCK=' : ''}${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: it runs as nobody \\(uid ${NOBODY_UID}, pid ${impostor.pid}\\), not as you \\(root, uid 0\\); nothing was sent`,
    );

  it('SIGIL_AUTH_SOCK naming it: unlock, secret set, status, sigil-token (C, and both Node transports) and the git helper all refuse with FORBIDDEN', async () => {
    await startImpostor(sock);
    const env = { SIGIL_AUTH_SOCK: sock };
    const cases: [string, string[], string, Record<string, string>][] = [
      [BIN.sigil, ['unlock', '--passphrase-stdin'], 'the passphrase\n', {}],
      [BIN.sigil, ['secret', 'set', 'db/password', '--stdin'], 's3cret', {}],
      [BIN.sigil, ['status'], '', {}],
      [BIN.token, ['github', 'work'], '', {}],
      [BIN.token, ['github', 'work'], '', { SIGIL_TOKEN_TRANSPORT: 'portable' }],
      ...(existsSync(NATIVE_TOKEN) ? [[NATIVE_TOKEN, ['github', 'work'], '', {}] as (typeof cases)[number]] : []),
    ];
    for (const [bin, args, input, extra] of cases) {
      // The C sigil-token is run as itself; the others by node.
      const r = bin === NATIVE_TOKEN ? await sb.exec(bin, args, { input, env: { ...env, ...extra } }) : await sb.run(bin, args, { input, env: { ...env, ...extra } });
      expect(r.stdout, `${args.join(' ')}`).toBe('');
      expect(r.stderr, `${args.join(' ')}`).toMatch(refusal(sock, true));
      expect(r.code, `${args.join(' ')}`).toBe(12);
    }
    // git's helper protocol: no answer at all (git then asks its next helper), and why on stderr.
    const git = await sb.run(GIT_HELPER, ['get'], { input: 'protocol=https\nhost=github.com\n\n', env });
    expect(git.stdout).toBe('');
    expect(git.stderr).toMatch(refusal(sock, true));
    expect(received()).toBe('');
  });

  it('the default socket path, in a directory another user made first: the clients refuse', async () => {
    // What /tmp/sigilforge-UID is without XDG_RUNTIME_DIR: the same default-path code, here
    // under a runtime directory of the test's choosing so no real agent is disturbed.
    const runtime = join(evil, 'run');
    mkdirSync(join(runtime, 'sigilforge'), { recursive: true });
    chownSync(runtime, NOBODY_UID, NOBODY_UID);
    chownSync(join(runtime, 'sigilforge'), NOBODY_UID, NOBODY_UID);
    const path = join(runtime, 'sigilforge', 'agent.sock');
    await startImpostor(path);
    const env = { XDG_RUNTIME_DIR: runtime };
    const unlock = await sb.run(BIN.sigil, ['unlock', '--passphrase-stdin'], { input: 'the passphrase\n', env });
    expect(unlock).toMatchObject({ code: 12, stdout: '' });
    expect(unlock.stderr).toMatch(refusal(path, false));
    const token = await sb.run(BIN.token, ['github', 'work'], { env });
    expect(token).toMatchObject({ code: 12, stdout: '' });
    if (existsSync(NATIVE_TOKEN)) {
      const native = await C_TOKEN.run(sb, ['github', 'work'], { env });
      expect(native).toMatchObject({ code: 12, stdout: '', stderr: token.stderr });
    }
    // The agent itself still refuses to start in that directory, and prints no exports.
    const agent = await sb.run(BIN.agent, ['-s'], { env });
    expect(agent.stdout).toBe('');
    expect(agent.code).toBe(12);
    expect(received()).toBe('');
  });

  it('sigil-agent -a onto the other user’s socket refuses instead of "reusing" it', async () => {
    await startImpostor(sock);
    const r = await sb.run(BIN.agent, ['-s', '-a', sock]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(refusal(sock, false));
    expect(r.code).toBe(12);
    expect(received()).toBe('');
  });

  it.runIf(which('tmux'))('sigil tui says it refuses the agent, and sends nothing', async () => {
    await startImpostor(sock);
    const term = new TmuxPane();
    try {
      const vars = Object.entries({ ...sb.env, SIGIL_AUTH_SOCK: sock })
        .filter(([k]) => k !== 'TERM')
        .map(([k, v]) => `${k}=${shQuote(v)}`)
        .join(' ');
      term.start(`env -u CI ${vars} ${shQuote(process.execPath)} ${shQuote(BIN.sigil)} tui`, 200, 30);
      // The message is long: joined, since the terminal may wrap it.
      await term.waitHistory(/refusing the agent at SIGIL_AUTH_SOCK=\S+: it runs as nobody/);
    } finally {
      term.kill();
    }
    expect(received()).toBe('');
  });

  it("the client library's connect() (import 'sigilforge') refuses too, with a SigilError FORBIDDEN", async () => {
    await startImpostor(sock);
    const script = `import { connect } from ${JSON.stringify(join(ROOT, 'dist/index.js'))};
connect().then((c) => c.getToken('github', 'work')).then((t) => console.log(t.access_token), (e) => { console.error(e.name, e.code, e.message); process.exitCode = e.exitCode; });`;
    const r = await sb.exec(process.execPath, ['--input-type=module', '-e', script], { env: { SIGIL_AUTH_SOCK: sock } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^SigilError FORBIDDEN /);
    expect(r.stderr).toMatch(refusal(sock, true));
    expect(r.code).toBe(12);
    expect(received()).toBe('');
  });

  it('a symlink to the other user’s socket is refused as well', async () => {
    await startImpostor(sock);
    const link = join(sb.home, 'link.sock');
    symlinkSync(sock, link);
    const r = await sb.run(BIN.token, ['github', 'work'], { env: { SIGIL_AUTH_SOCK: link } });
    expect(r).toMatchObject({ code: 12, stdout: '' });
    if (existsSync(NATIVE_TOKEN)) expect(await C_TOKEN.run(sb, ['github', 'work'], { env: { SIGIL_AUTH_SOCK: link } })).toMatchObject({ code: 12, stdout: '', stderr: r.stderr });
    expect(received()).toBe('');
  });
});

describe('clients still talk to an agent of their own uid', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  it('through a symlink, sigil-token (C, and both Node transports) and the CLI', async () => {
    await sb.startAgent();
    const link = join(sb.home, 'link.sock');
    symlinkSync(sb.socket, link);
    const env = { SIGIL_AUTH_SOCK: link };
    expect((await sb.sigil(['status', '--json'], { env })).code).toBe(0);
    // Locked, so exit 4 from the real agent: the request did get through.
    expect((await sb.run(BIN.token, ['github', 'work'], { env })).code).toBe(4);
    expect((await sb.run(BIN.token, ['github', 'work'], { env: { ...env, SIGIL_TOKEN_TRANSPORT: 'portable' } })).code).toBe(4);
    if (existsSync(NATIVE_TOKEN)) expect((await C_TOKEN.run(sb, ['github', 'work'], { env })).code).toBe(4);
  });
});

describe('the peer check costs the CLI no koffi where the native addon was built', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  it.runIf(existsSync(join(ROOT, 'dist/native', `sync-client-${process.platform}-${process.arch}.node`)))('connects through the addon’s peerCred, and never loads koffi', async () => {
    await sb.startAgent();
    const script = `const { AgentClient } = await import(${JSON.stringify(join(ROOT, 'dist/client/agent-client.js'))});
      const c = await AgentClient.connect({ socketPath: process.argv[1] });
      await c.request('status'); c.close();
      const { createRequire } = await import('node:module');
      const cache = createRequire(import.meta.url).cache;
      console.log(Object.keys(cache).some((k) => k.includes('/koffi/')) ? 'koffi' : 'no koffi');`;
    const r = await sb.exec(process.execPath, ['--input-type=module', '-e', script, sb.socket]);
    expect(r).toMatchObject({ code: 0, stdout: 'no koffi\n' });
  });
});
