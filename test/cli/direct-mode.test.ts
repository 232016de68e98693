import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVault } from '../../src/stores/vault-store.js';
import { sigilPaths } from '../../src/util/paths.js';
import { spawnSigil, writeConfig } from '../oauth/flow-helpers.js';
import { runAndKill } from '../stores/kill-harness.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { BIN, eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

/** `sigil --direct COMMAND`: no agent runs; the built sigil decrypts the vault itself for the one command. */
const P = TEST_PASSPHRASE + '\n';

describe('sigil --direct with no agent', () => {
  let sb: Sandbox;
  const direct = (args: string[], input = P, opts: { env?: Record<string, string>; cwd?: string } = {}) => sb.sigil(['--direct', '--passphrase-stdin', ...args], { input, ...opts });
  beforeAll(async () => {
    sb = new Sandbox();
    const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: P });
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('secret set, get, list, rm: the vault changes on disk, nothing is left running or behind', async () => {
    expect(await direct(['secret', 'set', 'ci/token', '--stdin'], `${P}direct-value\n`)).toMatchObject({ code: 0 });
    expect(await direct(['secret', 'get', 'ci/token'])).toMatchObject({ code: 0, stdout: 'direct-value\n' });
    expect(await direct(['secret', 'list'])).toMatchObject({ code: 0, stdout: 'ci/token\n' });
    expect(await direct(['secret', 'rm', 'ci/token'])).toMatchObject({ code: 0 });
    expect((await direct(['secret', 'get', 'ci/token'])).code).toBe(7);
    // No agent was there, and none is: the lease given back, no socket left in the sandbox.
    expect(existsSync(join(sb.home, 'data/sigilforge/vault.age.lease'))).toBe(false);
    expect(existsSync(sb.socket)).toBe(false);
    expect((await sb.sigil(['secret', 'get', 'x'])).code).toBe(3);
  });

  it('resolve and run: references (vals ones too), the vault locked again before the command starts', async () => {
    expect((await direct(['secret', 'set', 'db/pw', '--stdin'], `${P}pw-1\n`)).code).toBe(0);
    writeFileSync(join(sb.home, 'conf.yaml'), 'api: {key: k-1}\n');
    expect(await direct(['resolve', 'secret://db/pw'])).toMatchObject({ code: 0, stdout: 'pw-1\n' });
    expect(await direct(['resolve', 'ref+file://conf.yaml#/api/key'], P, { cwd: sb.home })).toMatchObject({ code: 0, stdout: 'k-1\n' });
    // While the child runs the lease is gone: an agent could unlock the vault now.
    const lease = join(sb.home, 'data/sigilforge/vault.age.lease');
    const run = await direct(['run', '--no-masking', '--', 'sh', '-c', `printf '%s' "$DB"; test -e ${lease} && echo held; true`], P, { env: { DB: 'secret://db/pw' } });
    expect(run).toMatchObject({ code: 0, stdout: 'pw-1' });
  });

  it('is audited as direct: its start and stop, and each op from the client "sigil --direct"', async () => {
    await eventually(() => sb.auditEntries().some((e) => e.op === 'direct_stop'));
    const entries = sb.auditEntries();
    expect(entries.some((e) => e.op === 'direct_start')).toBe(true);
    expect(entries.find((e) => e.op === 'set_secret')).toMatchObject({ client: 'sigil --direct', target: 'secret://ci/token', result: 'ok' });
    expect(entries.find((e) => e.op === 'unlock')).toMatchObject({ client: 'sigil --direct', result: 'ok' });
    expect(JSON.stringify(entries)).not.toContain('direct-value');
    // Unlocked before the first op that needs it, not after a refusal.
    expect(entries.filter((e) => e.result === 'LOCKED')).toEqual([]);
  });

  // No terminal and no --passphrase-stdin: a command that asked would fail ("no terminal to ask on").
  it('asks for no passphrase when the command needs no unlocked vault', async () => {
    expect(await sb.sigil(['--direct', 'status'])).toMatchObject({ code: 0 });
    expect(await sb.sigil(['--direct', 'run', '--', 'sh', '-c', 'echo ran'])).toMatchObject({ code: 0, stdout: 'ran\n' });
    const asks = await sb.sigil(['--direct', 'secret', 'list']);
    expect(asks.code).toBe(2);
    expect(asks.stderr).toContain('no terminal to ask on');
  });

  it('passwd works without an agent and without an unlock first', async () => {
    const next = 'a new passphrase for direct';
    expect(await sb.sigil(['--direct', 'passwd', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: `${TEST_PASSPHRASE}\n${next}\n` })).toMatchObject({ code: 0 });
    expect((await direct(['secret', 'get', 'db/pw'])).code).toBe(5);
    expect(await direct(['secret', 'get', 'db/pw'], `${next}\n`)).toMatchObject({ code: 0, stdout: 'pw-1\n' });
    expect((await sb.sigil(['--direct', 'passwd', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: `${next}\n${TEST_PASSPHRASE}\n` })).code).toBe(0);
  });

  it('refuses what needs a long-lived agent, and --passphrase-stdin without --direct', async () => {
    for (const args of [['tui'], ['lock'], ['unlock'], ['audit', '-f'], ['ssh', 'host']]) {
      const r = await sb.sigil(['--direct', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`sigil --direct ${args[0]}`);
      expect(r.stderr).toContain('is refused');
    }
    const stray = await sb.sigil(['--passphrase-stdin', 'secret', 'get', 'db/pw'], { input: P });
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('goes with --direct');
  });
});

describe('sigil --direct and an agent', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(() => sb.cleanup());

  it('refuses while an agent holds the vault unlocked, naming its pid and socket, before asking anything', async () => {
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    const r = await sb.sigil(['--direct', 'secret', 'list']); // no passphrase on stdin: it must not be asked for
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`the vault is unlocked by another agent (pid ${pid}, socket ${sb.socket})`);
    expect(r.stderr).not.toContain('passphrase');
    // Locked, the agent holds nothing: --direct goes ahead.
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await sb.sigil(['--direct', '--passphrase-stdin', 'secret', 'list'], { input: P })).code).toBe(0);
  });

  it('an agent that unlocks while a --direct command holds the vault is refused, naming it', async () => {
    // The direct command waits for its passphrase (an askpass program blocked on a fifo) holding the lease.
    const fifo = join(sb.home, 'pass.fifo');
    expect((await sb.exec('mkfifo', [fifo])).code).toBe(0);
    const askpass = join(sb.home, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\ncat ${fifo}\n`, { mode: 0o755 });
    const held = sb.spawnBackground(process.execPath, [BIN.sigil, '--direct', 'secret', 'list'], { env: { SIGIL_ASKPASS: askpass } });
    const lease = join(sb.home, 'data/sigilforge/vault.age.lease');
    await eventually(() => existsSync(lease), 10_000);
    const refused = await sb.sigil(['unlock', '--passphrase-stdin'], { input: P });
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain(`the vault is in use by sigil --direct (pid ${held.pid})`);
    writeFileSync(fifo, P);
    expect((await held.exited).code).toBe(0);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: P })).code).toBe(0);
  });
});

describe('sigil --direct killed mid-write', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: P })).code).toBe(0);
    // Other entries, so that each write of the vault takes long enough to be hit mid-way.
    const vault = await openVault(sigilPaths(sb.env), Buffer.from(TEST_PASSPHRASE));
    for (let i = 0; i < 300; i++) await vault.set(`sigilforge/_secret/filler/${i}`, Buffer.from(`filler-${i}`));
    await vault.set('sigilforge/_secret/counter', Buffer.from('0'));
    await vault.close();
  });
  afterAll(() => sb.cleanup());

  it('leaves the old vault or the new one across SIGKILLs, never a broken one', async () => {
    let last = 0;
    for (let n = 1; n <= 12; n++) {
      // From the start of the process: anywhere from start-up through unlock and write to exit.
      await runAndKill(BIN.sigil, ['--direct', '--passphrase-stdin', 'secret', 'set', 'counter', '--stdin'], `${P}${n}\n`, Math.random() * 1500, false, { env: sb.env, fromStart: true });
      const got = await sb.sigil(['--direct', '--passphrase-stdin', 'secret', 'get', 'counter'], { input: P });
      expect(got.code, got.stderr).toBe(0);
      const value = Number(got.stdout.trim());
      expect([last, n]).toContain(value);
      last = value;
      const list = await sb.sigil(['--direct', '--passphrase-stdin', 'secret', 'list', 'filler/'], { input: P });
      expect(list.stdout.trim().split('\n')).toHaveLength(300);
    }
    // The private directories of the killed commands were swept by the ones after them.
    expect(readdirSync(join(sb.home, 'run/sigilforge')).filter((n) => n.startsWith('direct-'))).toEqual([]);
  });
});

// accounts add is allowed with --direct: the flow runs in this process's agent while the command waits for it.
describe('sigil --direct accounts add', () => {
  let sandbox: Sandbox;
  beforeAll(() => void (sandbox = new Sandbox()));
  afterAll(() => sandbox?.cleanup());

  it('signs in with the device flow and keeps the tokens in the vault', async () => {
    const gh: FakeGithub = await startFakeGithub({ interval: 1 });
    try {
      const sb = sandbox;
      writeConfig(sb, `[providers.deviceonly]\nclient_id = "Iv1.sigiltest"\ndevice_authorization_endpoint = "${gh.endpoints.device_authorization_endpoint}"\ntoken_endpoint = "${gh.endpoints.token_endpoint}"\n`);
      expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: P })).code).toBe(0);
      const askpass = join(sb.home, 'askpass.sh');
      writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${TEST_PASSPHRASE}'\n`, { mode: 0o755 });
      const env = { SIGIL_ASKPASS: askpass };
      const cmd = spawnSigil(sb, ['--direct', 'accounts', 'add', 'deviceonly', 'bob', '--device'], env);
      const [, code] = await cmd.waitFor(/enter the code:\n\n {4}([A-Z]{4}-[A-Z]{4})\n/);
      gh.approveDevice(code!);
      const done = await cmd.done;
      expect(done.stderr).toContain('Authorized deviceonly/bob');
      expect(done.code).toBe(0);
      const token = await sb.sigil(['--direct', 'resolve', 'auth://deviceonly/bob'], { env });
      expect(token.code, token.stderr).toBe(0);
      expect(token.stdout.trim().length).toBeGreaterThan(10);
    } finally {
      await gh.close();
    }
  });
});
