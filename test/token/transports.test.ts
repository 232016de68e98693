import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncClientFile } from '../../src/native/sync-client.js';
import { BIN, eventually, ROOT, Sandbox, which, type RunResult } from '../support/sandbox.js';

/*
 * sigil-token's two transports end to end, through the built bundle and a real agent: the
 * native client (the default where dist/native has one) and the portable node:net client
 * (SIGIL_TOKEN_TRANSPORT=portable). Every case runs both and wants the same exit code,
 * stdout and stderr, byte for byte.
 */

const NATIVE = existsSync(syncClientFile(join(ROOT, 'dist/native')));
const PROBE = join(ROOT, 'bench/net-probe.cjs');

describe('sigil-token: native and portable transports behave the same', () => {
  let sb: Sandbox;

  /** Runs sigil-token once per transport; returns the native run, having compared them. */
  async function both(args: string[], env: Record<string, string> = {}, exec = (a: string[], e: Record<string, string>) => sb.run(BIN.token, a, { env: e })): Promise<RunResult> {
    const native = await exec(args, env);
    const portable = await exec(args, { ...env, SIGIL_TOKEN_TRANSPORT: 'portable' });
    const view = (r: RunResult) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });
    expect(view(native)).toEqual(view(portable));
    return native;
  }

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
    expect(await both(['github', 'work'])).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: '' });
    // Both hellos arrived: the audit log names the client of each get_token.
    await eventually(() => sb.auditEntries().filter((e) => e.op === 'get_token').length >= before + 2);
    const last = sb.auditEntries().filter((e) => e.op === 'get_token').slice(-2);
    for (const e of last) expect(e).toMatchObject({ client: 'sigil-token', result: 'ok', target: 'github/work' });
  });

  it('the native client runs without node:net; the portable one loads it', async () => {
    const probe = (env: Record<string, string>) => sb.exec(process.execPath, ['--require', PROBE, BIN.token, 'github', 'work'], { env });
    const portable = await probe({ SIGIL_TOKEN_TRANSPORT: 'portable' });
    expect(portable).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: yes\n' });
    if (!NATIVE) return; // built without a C compiler: there is only the portable client
    expect(await probe({})).toMatchObject({ code: 0, stdout: 'ghp_transport_token\n', stderr: 'net loaded: no\n' });
  });

  it('an account that does not exist: exit 7', async () => {
    expect(await both(['github', 'nobody'])).toMatchObject({ code: 7, stdout: '', stderr: 'sigil-token: no account github/nobody — add it with: sigil accounts add github nobody\n' });
  });

  it('usage errors and --help do not reach the agent', async () => {
    expect(await both(['github'])).toMatchObject({ code: 2, stdout: '' });
    expect(await both(['--help'])).toMatchObject({ code: 0, stderr: '' });
  });

  it('no agent, named by $SIGIL_AUTH_SOCK or by the default path: exit 3', async () => {
    const missing = join(sb.home, 'nowhere.sock');
    expect(await both(['github', 'work'], { SIGIL_AUTH_SOCK: missing })).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `sigil-token: no agent answers at SIGIL_AUTH_SOCK=${missing} (no such socket) — start one with: eval "$(sigil-agent)"\n`,
    });
    const elsewhere = join(sb.home, 'elsewhere');
    expect(await both(['github', 'work'], { XDG_RUNTIME_DIR: elsewhere })).toMatchObject({
      code: 3,
      stderr: `sigil-token: no agent answers at ${join(elsewhere, 'sigilforge/agent.sock')} (no such socket) — start one with: eval "$(sigil-agent)"\n`,
    });
  });

  it('a socket path too long for sun_path is cut short by both, as node:net always did', async () => {
    const long = join(sb.home, 'x'.repeat(120), 'agent.sock');
    expect(await both(['github', 'work'], { SIGIL_AUTH_SOCK: long })).toMatchObject({ code: 3, stderr: expect.stringContaining('(no such socket)') });
  });

  it.runIf(process.getuid?.() === 0 && which('setpriv'))('a socket of another user: exit 3, permission denied', async () => {
    const asNobody = (args: string[], env: Record<string, string>) =>
      sb.exec('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN.token, ...args], { env: { ...env, SIGIL_AUTH_SOCK: sb.socket } });
    expect(await both(['github', 'work'], {}, asNobody)).toMatchObject({
      code: 3,
      stderr: `sigil-token: cannot connect to SIGIL_AUTH_SOCK=${sb.socket}: permission denied (the socket or its directory belongs to another user)\n`,
    });
  });

  it('a locked agent: exit 4', async () => {
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect(await both(['github', 'work'])).toMatchObject({ code: 4, stdout: '', stderr: 'sigil-token: agent is locked — run: sigil unlock\n' });
  });

  it('falls back to the portable client, silently, when the addon is missing or does not load', async () => {
    // A copy of the bundle whose dist/native holds no addon, then one that is not a library.
    const app = join(sb.home, 'app');
    mkdirSync(join(app, 'bin'), { recursive: true });
    mkdirSync(join(app, 'native'), { recursive: true });
    copyFileSync(BIN.token, join(app, 'bin/sigil-token.cjs'));
    const run = () => sb.exec(process.execPath, ['--require', PROBE, join(app, 'bin/sigil-token.cjs'), 'github', 'work']);
    expect(await run()).toMatchObject({ code: 4, stderr: 'sigil-token: agent is locked — run: sigil unlock\nnet loaded: yes\n' });
    writeFileSync(syncClientFile(join(app, 'native')), 'built for another machine');
    expect(await run()).toMatchObject({ code: 4, stderr: 'sigil-token: agent is locked — run: sigil unlock\nnet loaded: yes\n' });
  });
});
