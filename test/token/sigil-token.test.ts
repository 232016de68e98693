import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncClientFile } from '../../src/native/sync-client.js';
import { installTokenBin, tokenBinFile } from '../../src/native/token-bin.js';
import { VERSION } from '../../src/version.js';
import { staleSocket } from '../support/fake-agent.js';
import { BIN, eventually, ROOT, Sandbox, which } from '../support/sandbox.js';
import { NATIVE_TOKEN, NATIVE_TOKEN_BUILDABLE, NODE_TOKEN, TOKEN_PROGRAMS, type TokenProgram } from '../support/token-programs.js';

/*
 * sigil-token end to end against a real agent, once per program that is sigil-token: the C
 * one (src/native/sigil_token.c) and the Node shim on each of its transports. Every case
 * wants the exact exit code, stdout and stderr, so all of them print the same bytes.
 * Hostile agents: test/fuzz/token-answers.test.ts; another user's agent:
 * test/client/agent-trust.test.ts.
 */

const USAGE = 'usage: sigil-token SERVICE ACCOUNT\n';
const HELP = USAGE + '\nPrints a fresh access token for the account, refreshed by the agent when needed.\nExit codes: see sigil-token(1).\n';
const PROBE = join(ROOT, 'bench/net-probe.cjs');
const NATIVE_ADDON = existsSync(syncClientFile(join(ROOT, 'dist/native')));
const NO_AGENT_HINT = ' — start one with: eval "$(sigil-agent)"\n';

it('the C sigil-token is built wherever there is a C compiler, and is the installed bin', () => {
  // Without this, a broken build would quietly leave only the Node shim to test.
  if (!NATIVE_TOKEN_BUILDABLE) return;
  expect(existsSync(NATIVE_TOKEN), NATIVE_TOKEN).toBe(true);
  expect(readFileSync(tokenBinFile(join(ROOT, 'dist'))).equals(readFileSync(NATIVE_TOKEN))).toBe(true);
});

describe.each(TOKEN_PROGRAMS)('$name', (prog: TokenProgram) => {
  let sb: Sandbox;
  const run = (args: string[], env: Record<string, string> = {}) => prog.run(sb, args, { env });

  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    const set = await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_transport_token' });
    expect(set.code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('prints the token and a newline, nothing else, and names itself to the agent', async () => {
    const before = sb.auditEntries().filter((e) => e.op === 'get_token').length;
    expect(await run(['github', 'work'])).toMatchObject({ code: 0, signal: null, stdout: 'ghp_transport_token\n', stderr: '' });
    // The hello arrived: the audit log names the client of the get_token.
    await eventually(() => sb.auditEntries().filter((e) => e.op === 'get_token').length > before);
    expect(sb.auditEntries().filter((e) => e.op === 'get_token').at(-1)).toMatchObject({ client: 'sigil-token', result: 'ok', target: 'github/work' });
  });

  it('an account that does not exist: exit 7; names the agent refuses: exit 2, the name as sent', async () => {
    const missing = (account: string) => `sigil-token: no account github/${account} — add it with: sigil accounts add github ${account}\n`;
    const invalid = (account: string) => `sigil-token: invalid account name "${account}": use letters, digits and . _ @ + - (max 128)\n`;
    expect(await run(['github', 'nobody'])).toMatchObject({ code: 7, stdout: '', stderr: missing('nobody') });
    // fixstr, str8 and str16 on the wire, UTF-8 as sent: the agent quotes them back.
    expect(await run(['github', 'a'.repeat(40)])).toMatchObject({ code: 7, stdout: '', stderr: missing('a'.repeat(40)) });
    expect(await run(['github', 'ünïcødé-konto'])).toMatchObject({ code: 2, stdout: '', stderr: invalid('ünïcødé-konto') });
    expect(await run(['github', 'b'.repeat(300)])).toMatchObject({ code: 2, stdout: '', stderr: invalid('b'.repeat(80) + '…') });
  });

  it('usage errors do not reach the agent: exit 2 and the usage', async () => {
    for (const args of [[], ['github'], ['github', 'work', 'extra'], ['-x', 'work'], ['github', '-w'], ['--bogus', 'work'], ['-', 'work']]) {
      expect(await run(args), args.join(' ')).toMatchObject({ code: 2, stdout: '', stderr: `sigil-token: expected SERVICE ACCOUNT\n${USAGE}` });
    }
  });

  it('--help and --version (and -h, -V) print on stdout and exit 0, whatever follows', async () => {
    for (const flag of ['--help', '-h']) expect(await run([flag])).toMatchObject({ code: 0, stdout: HELP, stderr: '' });
    for (const flag of ['--version', '-V']) expect(await run([flag, 'more'])).toMatchObject({ code: 0, stdout: `sigil-token ${VERSION}\n`, stderr: '' });
  });

  it('no agent, named by $SIGIL_AUTH_SOCK or by the default path (normalised as path.join does): exit 3', async () => {
    const missing = join(sb.home, 'nowhere.sock');
    expect(await run(['github', 'work'], { SIGIL_AUTH_SOCK: missing })).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${missing} (no such socket)${NO_AGENT_HINT}`,
    });
    const elsewhere = join(sb.home, 'elsewhere');
    for (const runtime of [elsewhere, `${elsewhere}/`, `${sb.home}//./x/../elsewhere`, `${sb.home}/${'d/'.repeat(600)}${'../'.repeat(600)}elsewhere/x/..`]) {
      expect(await run(['github', 'work'], { XDG_RUNTIME_DIR: runtime }), runtime).toMatchObject({
        code: 3,
        stderr: `sigil-token: no agent answers at ${join(elsewhere, 'sigilforge/agent.sock')} (no such socket)${NO_AGENT_HINT}`,
      });
    }
  });

  const tmpDefault = `/tmp/sigilforge-${process.getuid!()}/agent.sock`;
  it.runIf(!existsSync(tmpDefault))('a relative or empty XDG_RUNTIME_DIR is ignored: /tmp/sigilforge-UID', async () => {
    for (const runtime of ['run', '']) {
      expect(await run(['github', 'work'], { XDG_RUNTIME_DIR: runtime })).toMatchObject({ code: 3, stderr: `sigil-token: no agent answers at ${tmpDefault} (no such socket)${NO_AGENT_HINT}` });
    }
  });

  it('a socket nobody listens on (an agent killed with SIGKILL): exit 3, nothing listening', async () => {
    const stale = staleSocket(join(sb.home, 'stale.sock'));
    expect(await run(['github', 'work'], { SIGIL_AUTH_SOCK: stale })).toMatchObject({
      code: 3,
      stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${stale} (nothing listening)${NO_AGENT_HINT}`,
    });
  });

  it('a socket path too long for sun_path is cut short, as node:net always did', async () => {
    const long = join(sb.home, 'x'.repeat(120), 'agent.sock');
    expect(await run(['github', 'work'], { SIGIL_AUTH_SOCK: long })).toMatchObject({ code: 3, stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${long} (no such socket)${NO_AGENT_HINT}` });
  });

  it('control characters in a message are shown escaped, never sent to the terminal', async () => {
    const path = join(sb.home, 'a\x1b]0;owned\x07b\u009bc\u00e9.sock');
    expect(await run(['github', 'work'], { SIGIL_AUTH_SOCK: path })).toMatchObject({
      code: 3,
      stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${join(sb.home, 'a\\x1b]0;owned\\x07b\\x9bc\u00e9.sock')} (no such socket)${NO_AGENT_HINT}`,
    });
  });

  it('ill-formed UTF-8 in $SIGIL_AUTH_SOCK and in the arguments is read as Node reads it: U+FFFD', async () => {
    // Bytes no JavaScript string can carry: set by the shell, from printf's octal escapes.
    const sh = (setup: string, args: string) => sb.exec('sh', ['-c', `${setup} exec "$@" ${args}`, 'sh', ...prog.argv], { env: prog.env });
    const sock = await sh(`SIGIL_AUTH_SOCK="$(printf '%s/\\377\\300\\257x' "$HOME")"; export SIGIL_AUTH_SOCK;`, 'github work');
    expect(sock).toMatchObject({ code: 3, stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${sb.home}/\ufffd\ufffd\ufffdx (no such socket)${NO_AGENT_HINT}` });
    const arg = await sh('', `github "$(printf 'a\\355\\240\\200b')"`);
    expect(arg).toMatchObject({ code: 2, stderr: 'sigil-token: invalid account name "a\ufffd\ufffd\ufffdb": use letters, digits and . _ @ + - (max 128)\n' });
  });

  it.runIf(which('/usr/bin/python3'))('a closed stdout (EPIPE): exit 1, nothing on stderr, no signal', async () => {
    // A pipe whose reader is gone before the token is written, as in `sigil-token … | true`
    // when true has already exited — made certain by closing the read end first.
    const script = 'import os,subprocess,sys\nr,w=os.pipe()\nos.close(r)\np=subprocess.run(sys.argv[1:],stdout=w,stderr=subprocess.PIPE)\nsys.stdout.write("%d %r" % (p.returncode, p.stderr))';
    const r = await sb.exec('/usr/bin/python3', ['-c', script, ...prog.argv, 'github', 'work'], { env: prog.env });
    expect(r.stdout).toBe("1 b''");
  });

  it.runIf(process.getuid?.() === 0 && which('setpriv'))('a socket of another user: exit 3, permission denied', async () => {
    const r = await sb.exec('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...prog.argv, 'github', 'work'], { env: { ...prog.env, SIGIL_AUTH_SOCK: sb.socket } });
    expect(r).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `sigil-token: cannot connect to SIGIL_AUTH_SOCK=${sb.socket}: permission denied (the socket or its directory belongs to another user)\n`,
    });
  });

  // Last: it locks the agent.
  it('a locked agent: exit 4', async () => {
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect(await run(['github', 'work'])).toMatchObject({ code: 4, stdout: '', stderr: 'sigil-token: agent is locked — run: sigil unlock\n' });
  });
});

describe('the Node shim: its native client and its portable one', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_transport_token' })).code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('the native client runs without node:net; the portable one loads it', async () => {
    // On success only: an error is written through process.stderr, which is a net.Socket on a pipe.
    const probe = (env: Record<string, string>) => sb.exec(process.execPath, ['--require', PROBE, BIN.token, 'github', 'work'], { env });
    expect(await probe({ SIGIL_TOKEN_TRANSPORT: 'portable' })).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: yes\n' });
    if (!NATIVE_ADDON) return; // built without a C compiler: there is only the portable client
    expect(await probe({})).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: no\n' });
  });

  it('sigil status says which sigil-token this installation’s bin is', async () => {
    const bin = tokenBinFile(join(ROOT, 'dist'));
    const native = existsSync(NATIVE_TOKEN) && readFileSync(bin).equals(readFileSync(NATIVE_TOKEN));
    const status = await sb.sigil(['status']);
    expect(status.stdout).toContain(native ? '\ntoken:    sigil-token is native (C)\n' : '\ntoken:    sigil-token runs on Node (no native build runs here)\n');
  });

  it('falls back to the portable client, silently, when the addon is missing or does not load', async () => {
    // A copy of the bundle whose dist/native holds no addon, then one that is not a library.
    const app = join(sb.home, 'app');
    mkdirSync(join(app, 'bin'), { recursive: true });
    mkdirSync(join(app, 'native'), { recursive: true });
    copyFileSync(BIN.token, join(app, 'bin/sigil-token.cjs'));
    const run = () => sb.exec(process.execPath, ['--require', PROBE, join(app, 'bin/sigil-token.cjs'), 'github', 'work']);
    expect(await run()).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: yes\n' });
    writeFileSync(syncClientFile(join(app, 'native')), 'built for another machine');
    expect(await run()).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: yes\n' });
  });

  it('the bin where the C program does not run (another machine’s, or none): a launcher of the shim, same output', async () => {
    // A copy of dist/ as npm would unpack it elsewhere: the native file is junk for this machine.
    const dist = join(sb.home, 'dist');
    mkdirSync(join(dist, 'bin'), { recursive: true });
    mkdirSync(join(dist, 'native'), { recursive: true });
    copyFileSync(BIN.token, join(dist, 'bin/sigil-token.cjs'));
    writeFileSync(join(dist, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dist, 'native', `sigil-token-${process.platform}-${process.arch}`), '\x7fELF for another machine', { mode: 0o755 });
    expect(installTokenBin(dist, { native: true })).toBe('node');
    const bin = tokenBinFile(dist);
    expect(readFileSync(bin, 'utf8')).toMatch(/^#!\/usr\/bin\/env -S node --\n/);
    for (const args of [['--version'], ['github', 'work'], ['github', 'nobody'], ['github']]) {
      const launched = await sb.exec(bin, args);
      const shim = await NODE_TOKEN.run(sb, args);
      expect({ code: launched.code, stdout: launched.stdout, stderr: launched.stderr }).toEqual({ code: shim.code, stdout: shim.stdout, stderr: shim.stderr });
    }
  });
});
