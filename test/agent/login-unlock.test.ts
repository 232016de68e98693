/**
 * Unlock at login, end to end: the built binaries in a temporary HOME, the agent talking to
 * a real gnome-keyring on a private D-Bus session bus (test/support/keyring-session.ts),
 * the keyring item cross-checked with secret-tool.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestOnce } from '../../src/client/agent-client.js';
import { sigilErrorOf } from '../support/errors.js';
import { keyringSkipReason, startKeyringSession, type KeyringSession } from '../support/keyring-session.js';
import { BIN, eventually, Sandbox, TEST_PASSPHRASE, TEST_WORK_FACTOR } from '../support/sandbox.js';
import { auditUntil, killStrayAgents, running } from './helpers.js';

const SKIP = keyringSkipReason();
if (SKIP) console.warn(`login-unlock.test.ts skipped: ${SKIP}`);

const NEW_PASSPHRASE = 'a brand new passphrase for the vault';
const WRONG = 'not the passphrase at all';
const REMEMBERED_LINE = 'Unlocked; the passphrase is remembered in the OS keyring: the agent will unlock itself at start.\n';

describe.skipIf(SKIP !== null)(`unlock at login${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let session: KeyringSession;
  let sb: Sandbox;
  const extraSessions: KeyringSession[] = [];

  beforeAll(async () => {
    session = await startKeyringSession();
  });
  afterAll(async () => {
    await session?.stop();
  });
  afterEach(async () => {
    if (sb) {
      killStrayAgents(sb);
      sb.cleanup();
    }
    for (const s of extraSessions.splice(0)) await s.stop();
  });

  /** A sandbox whose agents and clients use `bus` (default: the shared unlocked keyring). */
  function sandbox(bus: KeyringSession | null = session): Sandbox {
    sb = new Sandbox();
    if (bus) sb.env.DBUS_SESSION_BUS_ADDRESS = bus.address;
    return sb;
  }

  const vaultPath = (s: Sandbox) => join(s.env.XDG_DATA_HOME!, 'sigilforge', 'vault.age');
  const markerPath = (s: Sandbox) => join(s.env.XDG_DATA_HOME!, 'sigilforge', 'unlock-at-login');
  const lookup = (s: Sandbox, bus = session) => bus.secretTool(['lookup', 'service', 'sigilforge-vault', 'username', vaultPath(s)]);

  async function init(s: Sandbox): Promise<void> {
    const r = await s.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: TEST_PASSPHRASE + '\n' });
    expect(r.code, r.stderr).toBe(0);
  }

  const unlock = (s: Sandbox, pass: string, extra: string[] = []) => s.sigil(['unlock', '--passphrase-stdin', ...extra], { input: pass + '\n' });

  /** `sigil` with no stdin and, in a new session (setsid), no controlling terminal. */
  const withoutTty = (s: Sandbox, args: string[]) => s.exec('setsid', ['-w', process.execPath, BIN.sigil, ...args]);

  async function stopAgent(pid: number): Promise<void> {
    process.kill(pid, 'SIGTERM');
    await eventually(() => !running(pid), 10_000);
  }

  async function restart(s: Sandbox, pid: number): Promise<number> {
    await stopAgent(pid);
    return s.startAgent();
  }

  /** Nothing secret in the audit log (and whatever output is given). */
  function expectNoPassphrase(s: Sandbox, ...outputs: string[]): void {
    const audit = existsSync(s.auditPath) ? readFileSync(s.auditPath, 'utf8') : '';
    for (const text of [audit, ...outputs]) {
      expect(text).not.toContain(TEST_PASSPHRASE);
      expect(text).not.toContain(NEW_PASSPHRASE);
    }
  }

  /** `unlock {}` straight on the socket (the CLI only sends it when status says unlock at login). */
  /** `unlock {}` straight on the socket (the CLI only sends it when status says unlock at login). */
  async function unlockFromKeyring(s: Sandbox): Promise<{ code: string; message: string }> {
    const { code, message } = await sigilErrorOf(requestOnce('unlock', {}, { socketPath: s.socket }));
    return { code, message };
  }

  const keyringLines = (entries: Record<string, unknown>[]) => entries.filter((e) => e.target === 'keyring').map((e) => `${String(e.op)} ${String(e.result)}`);

  it('remembers the passphrase; a restarted agent unlocks itself; a plain sigil unlock uses the keyring', async () => {
    const s = sandbox();
    let pid = await s.startAgent();
    await init(s);
    expect(await s.status()).toMatchObject({ locked: true, unlock_at_login: false });

    const r = await unlock(s, TEST_PASSPHRASE, ['--remember']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(REMEMBERED_LINE);
    const item = await lookup(s);
    expect(item.code).toBe(0);
    expect(item.stdout).toBe(TEST_PASSPHRASE);
    expect(statSync(markerPath(s)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(markerPath(s), 'utf8'))).toEqual({ keyring: { service: 'sigilforge-vault', username: vaultPath(s) } });
    expect(await s.status()).toMatchObject({ locked: false, unlock_at_login: true });
    expect((await s.sigil(['status'])).stdout).toContain('at login: unlock on');
    expect((await s.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_at_login' })).code).toBe(0);

    pid = await restart(s, pid);
    await eventually(async () => (await s.status()).locked === false, 15_000, 100);
    const token = await s.token('github', 'work');
    expect(token).toMatchObject({ code: 0, stdout: 'ghp_at_login\n' });
    const started = await auditUntil(s, (e) => e.some((x) => x.op === 'unlock' && x.target === 'keyring'));
    expect(started.find((x) => x.op === 'unlock' && x.target === 'keyring')).toMatchObject({ result: 'ok', client: 'sigil-agent' });
    expect((await s.status()).failed_unlocks).toBe(0);

    expect((await s.sigil(['lock'])).code).toBe(0);
    const plain = await withoutTty(s, ['unlock']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('Unlocked with the passphrase remembered in the OS keyring.\n');
    expect((await s.status()).locked).toBe(false);

    const entries = await auditUntil(s, (e) => e.filter((x) => x.op === 'unlock' && x.target === 'keyring').length === 2);
    expect(keyringLines(entries)).toEqual(['remember_passphrase ok', 'unlock ok', 'unlock ok']);
    expect(entries.filter((x) => x.target === 'keyring').at(-1)).toMatchObject({ client: 'sigil', pid: expect.any(Number) });
    expectNoPassphrase(s, r.stdout, r.stderr, plain.stdout, plain.stderr);
    await stopAgent(pid);
  });

  it('stores nothing for a wrong passphrase, locked or already unlocked', async () => {
    const s = sandbox();
    await s.startAgent();
    await init(s);

    const locked = await unlock(s, WRONG, ['--remember']);
    expect(locked.code).toBe(5);
    expect(locked.stderr).toBe('sigil: incorrect passphrase\n');
    expect((await lookup(s)).code).not.toBe(0);
    expect(existsSync(markerPath(s))).toBe(false);
    expect(await s.status()).toMatchObject({ locked: true, unlock_at_login: false });

    expect((await unlock(s, TEST_PASSPHRASE)).code).toBe(0);
    // Unlocked already: the agent still checks the passphrase before keeping it.
    const unlocked = await unlock(s, WRONG, ['--remember']);
    expect(unlocked.code).toBe(5);
    expect(unlocked.stderr).toBe('sigil: incorrect passphrase\n');
    expect((await lookup(s)).code).not.toBe(0);
    expect(existsSync(markerPath(s))).toBe(false);
    // The right passphrase in between reset the count: this one is the wrong --remember.
    expect(await s.status()).toMatchObject({ locked: false, unlock_at_login: false, failed_unlocks: 1 });

    const right = await unlock(s, TEST_PASSPHRASE, ['--remember']);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stderr).toBe(REMEMBERED_LINE);
    expect((await lookup(s)).stdout).toBe(TEST_PASSPHRASE);
    expect((await s.status()).failed_unlocks).toBe(0);

    const entries = await auditUntil(s, (e) => e.some((x) => x.op === 'remember_passphrase' && x.result === 'ok'));
    expect(keyringLines(entries)).toEqual(['remember_passphrase BAD_PASSPHRASE', 'remember_passphrase BAD_PASSPHRASE', 'remember_passphrase ok']);
    expect((await s.sigil(['unlock', '--remember', '--forget'])).code).toBe(2);
    expectNoPassphrase(s);
  });

  it('passwd: a stale remembered passphrase leaves the agent locked with a hint; passwd with an agent updates it', async () => {
    const s = sandbox();
    let pid = await s.startAgent();
    await init(s);
    expect((await unlock(s, TEST_PASSPHRASE, ['--remember'])).code).toBe(0);
    await stopAgent(pid);

    // No agent to tell: the change is made, and the person is told the keyring is now stale.
    const offline = await s.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: `${TEST_PASSPHRASE}\n${NEW_PASSPHRASE}\n` });
    expect(offline.code).toBe(3);
    expect(offline.stderr).toContain('Passphrase changed.');
    expect(offline.stderr).toContain('the OS keyring still holds the old passphrase');
    expect((await lookup(s)).stdout).toBe(TEST_PASSPHRASE);

    pid = await s.startAgent();
    const failed = await auditUntil(s, (e) => e.some((x) => x.op === 'unlock' && x.target === 'keyring'));
    expect(failed.find((x) => x.op === 'unlock' && x.target === 'keyring')).toMatchObject({ result: 'BAD_PASSPHRASE' });
    // The keyring's passphrase is not a guess: no back-off for the person typing the right one.
    expect(await s.status()).toMatchObject({ locked: true, failed_unlocks: 0, unlock_at_login: true });
    const hint = await unlockFromKeyring(s);
    expect(hint.code).toBe('BAD_PASSPHRASE');
    expect(hint.message).toContain('no longer opens the vault');
    expect(hint.message).toContain('sigil unlock --remember');
    expect((await s.status()).failed_unlocks).toBe(0);

    const fixed = await unlock(s, NEW_PASSPHRASE, ['--remember']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await lookup(s)).stdout).toBe(NEW_PASSPHRASE);

    // With the agent running (and unlocked): it checks the newest passphrase and keeps it.
    const online = await s.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: `${NEW_PASSPHRASE}\n${TEST_PASSPHRASE}\n` });
    expect(online.code, online.stderr).toBe(0);
    expect(online.stderr).toContain('the passphrase is remembered in the OS keyring');
    expect((await lookup(s)).stdout).toBe(TEST_PASSPHRASE);

    pid = await restart(s, pid);
    await eventually(async () => (await s.status()).locked === false, 15_000, 100);
    expectNoPassphrase(s, offline.stderr, online.stdout, online.stderr);
    await stopAgent(pid);
  });

  it('forget removes the item and the marker; a restarted agent stays locked', async () => {
    const s = sandbox();
    let pid = await s.startAgent();
    await init(s);
    expect((await unlock(s, TEST_PASSPHRASE, ['--remember'])).code).toBe(0);
    expect((await lookup(s)).code).toBe(0);

    const r = await s.sigil(['unlock', '--forget']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Forgotten: /);
    expect((await lookup(s)).code).not.toBe(0);
    expect(existsSync(markerPath(s))).toBe(false);
    expect(await s.status()).toMatchObject({ locked: false, unlock_at_login: false });
    expect((await s.sigil(['status'])).stdout).toContain('at login: unlock off');
    const again = await s.sigil(['unlock', '--forget']);
    expect(again).toMatchObject({ code: 0, stderr: 'No passphrase was remembered for this vault.\n' });

    pid = await restart(s, pid);
    const entries = await auditUntil(s, (e) => e.filter((x) => x.op === 'agent_start').length === 2);
    expect(await s.status()).toMatchObject({ locked: true, unlock_at_login: false });
    expect(await unlockFromKeyring(s)).toEqual({ code: 'NOT_FOUND', message: 'no passphrase is remembered for this vault — run: sigil unlock --remember' });
    expect(keyringLines(await auditUntil(s, (e) => e.length > entries.length))).toEqual([
      'remember_passphrase ok',
      'forget_passphrase ok',
      'forget_passphrase ok',
      'unlock NOT_FOUND',
    ]);
    await stopAgent(pid);
  });

  it('stays locked when the keyring is locked at start, says why once, and the passphrase still unlocks', async () => {
    const bus = await startKeyringSession();
    extraSessions.push(bus);
    const s = sandbox(bus);
    const pid = await s.startAgent();
    await init(s);
    expect((await unlock(s, TEST_PASSPHRASE, ['--remember'])).code).toBe(0);
    await stopAgent(pid);
    await bus.lock();

    const agent = s.spawnBackground(process.execPath, [BIN.agent, '-d']);
    await eventually(() => agent.stderr.includes('could not unlock from the OS keyring'), 15_000);
    const line = agent.stderr.split('\n').find((l) => l.includes('could not unlock from the OS keyring'))!;
    expect(line).toMatch(/^sigil-agent\[\d+\]: could not unlock from the OS keyring, staying locked: the OS keyring is locked\b/);
    const entries = await auditUntil(s, (e) => e.some((x) => x.op === 'unlock' && x.target === 'keyring'));
    expect(entries.find((x) => x.op === 'unlock' && x.target === 'keyring')).toMatchObject({ result: 'INTERNAL' });
    expect(await s.status()).toMatchObject({ locked: true, failed_unlocks: 0, unlock_at_login: true });

    // Plain unlock tries the keyring first, says why it could not, then takes the passphrase.
    const r = await unlock(s, TEST_PASSPHRASE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Could not unlock from the OS keyring \(the OS keyring is locked\b.*\); asking for the passphrase\.\nUnlocked\.\n$/);
    expect(await s.status()).toMatchObject({ locked: false, failed_unlocks: 0 });
    expect(agent.stderr.split('\n').filter((l) => l.includes('could not unlock from the OS keyring'))).toHaveLength(1);
    expectNoPassphrase(s, agent.stderr, agent.stdout, r.stderr);
    agent.child.kill('SIGTERM');
    await agent.exited;
  });

  it('without D-Bus, --remember still unlocks, exits 1 and names the missing part', async () => {
    const s = sandbox(null);
    await s.startAgent();
    await init(s);
    const r = await unlock(s, TEST_PASSPHRASE, ['--remember']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'sigil: Unlocked, but the passphrase could not be remembered: the OS keyring is not available: no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)\n',
    );
    expect(await s.status()).toMatchObject({ locked: false, unlock_at_login: false });
    expect(existsSync(markerPath(s))).toBe(false);
    const entries = await auditUntil(s, (e) => e.some((x) => x.op === 'remember_passphrase'));
    expect(keyringLines(entries)).toEqual(['remember_passphrase INTERNAL']);
    expectNoPassphrase(s, r.stdout);
  });

  describe('an agent whose user never opted in', () => {
    let fakeBus: Server | undefined;
    afterEach(() => fakeBus?.close());

    it('never connects to D-Bus: not at start, not for unlock, status or lock', async () => {
      const s = sandbox(null);
      // A "bus" that only counts who connects: any keyring use would show here.
      let connections = 0;
      const busPath = join(s.home, 'bus.sock');
      fakeBus = createServer((c) => {
        connections++;
        c.destroy();
      });
      await new Promise<void>((r) => fakeBus!.listen(busPath, r));
      s.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${busPath}`;

      await s.startAgent();
      await init(s);
      expect((await s.status()).unlock_at_login).toBe(false);
      const plain = await withoutTty(s, ['unlock']);
      expect(plain.code).toBe(2); // no terminal to ask on, and nothing remembered to try
      expect((await unlockFromKeyring(s)).code).toBe('NOT_FOUND');
      expect((await unlock(s, TEST_PASSPHRASE)).code).toBe(0);
      expect((await s.sigil(['lock'])).code).toBe(0);
      expect((await unlock(s, TEST_PASSPHRASE)).code).toBe(0);
      const entries = await auditUntil(s, (e) => e.filter((x) => x.op === 'unlock').length >= 3);
      expect(keyringLines(entries)).toEqual(['unlock NOT_FOUND']);
      expect(connections).toBe(0);
    });
  });
});
