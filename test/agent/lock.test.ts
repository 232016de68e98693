import { readFileSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import { requestOnce } from '../../src/client/agent-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { eventually, Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';
import { auditUntil, killStrayAgents, sleep } from './helpers.js';

/** A sandbox cleaned up (agents killed) when the test ends, and `sigil unlock` with a passphrase on stdin. */
function setup(onTestFinished: TestContext['onTestFinished']) {
  const sb = new Sandbox();
  onTestFinished(() => {
    killStrayAgents(sb);
    sb.cleanup();
  });
  const unlock = (pass = TEST_PASSPHRASE) => sb.sigil(['unlock', '--passphrase-stdin'], { input: pass + '\n' });
  return { sb, unlock };
}

/** The lock state machine, through the real agent: start locked, unlock, timeout, SIGUSR1, throttle. */
// Mostly waiting on timers, so the tests run concurrently, each in its own sandbox.
describe.concurrent('sigil-agent lock state', () => {
  it('starts locked, unlocks, locks on request; secret ops answer LOCKED; audit has lock and unlock', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    await sb.startAgent();
    const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' });
    expect(init.code).toBe(0);
    expect(await sb.status()).toMatchObject({ locked: true, secrets: null, locks_in_s: null });
    const before = await sb.sigil(['secret', 'list']);
    expect(before.code).toBe(4);
    expect(before.stderr).toMatch(/locked/);

    expect((await unlock()).code).toBe(0);
    expect(await sb.status()).toMatchObject({ locked: false, secrets: 0, lock_timeout_s: 900 });
    expect((await sb.sigil(['secret', 'set', 'k', '--stdin'], { input: 'v' })).code).toBe(0);

    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect(await sb.status()).toMatchObject({ locked: true, secrets: null });
    const after = await sb.sigil(['secret', 'get', 'k']);
    expect(after).toMatchObject({ code: 4, stdout: '' });
    expect(after.stderr).toMatch(/agent is locked — run: sigil unlock/);

    const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'get_secret'));
    const ops = entries.map((e) => `${String(e.op)} ${String(e.result)}`);
    expect(ops).toEqual(expect.arrayContaining(['unlock ok', 'set_secret ok', 'lock ok', 'get_secret LOCKED', 'list_secrets LOCKED']));
    const unlockLine = entries.find((e) => e.op === 'unlock')!;
    expect(unlockLine).toMatchObject({ client: 'sigil', uid: 0, pid: expect.any(Number) });
  });

  it('-t 2: locks after ~2 s idle although status is polled every 300 ms', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    const pid = await sb.startAgent(['-t', '2']);
    await sb.initAndUnlock();
    const unlockedAt = Date.now();
    const st = await sb.status();
    expect(st).toMatchObject({ locked: false, lock_timeout_s: 2, pid });
    expect(st.locks_in_s).toBeGreaterThan(0);
    expect(st.locks_in_s).toBeLessThanOrEqual(2);

    // A status bar polling the agent must not count as use.
    let lockedAt = 0;
    await eventually(async () => {
      const s = await sb.status();
      if (s.locked) lockedAt = Date.now();
      return s.locked === true;
    }, 8000, 300);
    const idle = lockedAt - unlockedAt;
    expect(idle).toBeGreaterThan(1500);
    expect(idle).toBeLessThan(6000);
    expect(await sb.status()).toMatchObject({ locked: true, secrets: null, locks_in_s: null });
    const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'lock' && x.target === 'timeout'));
    expect(entries.filter((e) => e.op === 'lock')).toHaveLength(1);
  });

  it('a get_token restarts the countdown', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    await sb.startAgent(['-t', '4']);
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_countdown' })).code).toBe(0);
    // Let the countdown run down by two seconds (leaving sigil-token time to start)...
    await eventually(async () => {
      const s = await sb.status();
      return s.locked === false && (s.locks_in_s as number) <= 2;
    }, 5000, 100);
    // ...then one use of the token puts it back to the full timeout.
    expect((await sb.token('github', 'work')).stdout).toBe('ghp_countdown\n');
    const s = await sb.status();
    expect(s.locked).toBe(false);
    expect(s.locks_in_s).toBeGreaterThanOrEqual(3);
    // And it still locks by itself afterwards.
    await eventually(async () => (await sb.status()).locked === true, 8000, 300);
    const locked = await sb.token('github', 'work');
    expect(locked).toMatchObject({ code: 4, stdout: '' });
  });

  it('a lock timeout beyond setTimeout’s 24.8-day limit neither spins nor locks early', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    const pid = await sb.startAgent(['-t', '30d']);
    await sb.initAndUnlock();
    // Wake-ups of the agent's main thread: an idle agent sleeps in epoll; a timer that
    // overflowed and is re-armed every millisecond wakes it ~1000 times a second.
    const wakeups = () => {
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]);
    };
    await sleep(200); // let the unlock's own work settle
    const before = wakeups();
    await sleep(1000);
    expect(wakeups() - before).toBeLessThan(50);
    const s = await sb.status();
    expect(s).toMatchObject({ locked: false, lock_timeout_s: 30 * 86400 });
    expect(s.locks_in_s).toBeGreaterThan(30 * 86400 - 10);
  });

  it('SIGUSR1 locks; the agent keeps serving and unlocks again', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'k', '--stdin'], { input: 'usr1-value' })).code).toBe(0);
    process.kill(pid, 'SIGUSR1');
    await eventually(async () => (await sb.status()).locked === true);
    expect((await sb.status()).pid).toBe(pid);
    expect(await sb.sigil(['secret', 'get', 'k'])).toMatchObject({ code: 4, stdout: '' });
    const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'lock' && x.target === 'signal'));
    expect(entries.find((x) => x.op === 'lock' && x.target === 'signal')).toMatchObject({ result: 'ok' });
    expect((await unlock()).code).toBe(0);
    expect(await sb.sigil(['secret', 'get', 'k'])).toMatchObject({ code: 0, stdout: 'usr1-value\n' });
  });

  it('wrong passphrases: BAD_PASSPHRASE, then RATE_LIMITED with a wait; audited; the right one works after the wait', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    await sb.startAgent();
    expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    // unlock-throttle.ts: three free tries, then 1 s, 2 s, 4 s … before the next attempt (the
    // exact waits are timed with a fake clock in test/agent/lock/vault-lock.test.ts). Here a
    // `sigil unlock` may itself take longer than a second on a loaded machine, so more wrong
    // ones are tried until one arrives inside its wait; each judged one doubles the next wait.
    for (let i = 0; i < 3; i++) {
      const r = await unlock('wrong passphrase ' + i);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/incorrect passphrase/);
    }
    let judged = 3;
    let limited: Awaited<ReturnType<typeof unlock>> | undefined;
    for (let i = 0; i < 5 && !limited; i++) {
      const r = await unlock('wrong passphrase again');
      expect([5, 6]).toContain(r.code);
      if (r.code === 6) limited = r;
      else judged++;
    }
    expect(limited?.stderr).toMatch(/try again in \d+s/);
    expect(await sb.status()).toMatchObject({ locked: true, failed_unlocks: judged });

    // The right passphrase is refused as well until the wait is over, then works.
    await eventually(async () => {
      const r = await unlock();
      if (r.code === 6) return false;
      expect(r).toMatchObject({ code: 0 });
      return true;
    }, 40_000, 250);
    expect(await sb.status()).toMatchObject({ locked: false, failed_unlocks: 0 });

    const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'unlock' && x.result === 'ok'));
    const unlocks = entries.filter((e) => e.op === 'unlock').map((e) => e.result);
    expect(unlocks.filter((r) => r === 'BAD_PASSPHRASE')).toHaveLength(judged);
    expect(unlocks.filter((r) => r === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(1);
    expect(unlocks.at(-1)).toBe('ok');
    for (const e of entries.filter((x) => x.op === 'unlock')) expect(e).toMatchObject({ uid: 0, pid: expect.any(Number), client: 'sigil' });
    // The passphrases tried are never written down.
    expect(JSON.stringify(entries)).not.toMatch(/wrong passphrase|correct horse/);
  });

  it('attempts refused as RATE_LIMITED do not count as failures', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    await sb.startAgent();
    expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    for (let i = 0; i < 3; i++) expect((await unlock('nope')).code).toBe(5);
    // Hammer it while limited. On a slow machine the 1 s wait may run out in between, and
    // then an attempt is judged (exit 5) and counts: the tally must match exactly.
    let judged = 3;
    let limited = 0;
    for (let i = 0; i < 4; i++) {
      const r = await unlock('nope');
      expect([5, 6]).toContain(r.code);
      if (r.code === 5) judged++;
      else limited++;
    }
    expect(limited).toBeGreaterThan(0);
    expect((await sb.status()).failed_unlocks).toBe(judged);
    await eventually(async () => (await unlock()).code === 0, 20_000, 250);
    expect(await sb.status()).toMatchObject({ locked: false, failed_unlocks: 0 });
  });
});

// Not among the concurrent tests above: they time the throttle's waits, and one more agent
// doing scrypt beside them makes a loaded machine miss their windows.
describe('sigil-agent throttle, for clients', () => {
  it('RATE_LIMITED says the wait in its retry_after_s field, the seconds its message names', async ({ onTestFinished }) => {
    const { sb, unlock } = setup(onTestFinished);
    await sb.startAgent();
    expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    for (let i = 0; i < 3; i++) expect((await unlock('nope')).code).toBe(5);
    // On a slow machine a wait may run out before the next try, which is then judged (and the
    // next wait is longer): try until one is refused.
    let limited: SigilError | undefined;
    for (let i = 0; i < 5 && !limited; i++) {
      const err = await requestOnce('unlock', { passphrase: 'nope' }, { socketPath: sb.socket }).then(
        () => undefined,
        (e: unknown) => e as SigilError,
      );
      expect(err).toBeInstanceOf(SigilError);
      if (err!.code === ErrorCode.RATE_LIMITED) limited = err;
      else expect(err!.code).toBe(ErrorCode.BAD_PASSPHRASE);
    }
    expect(limited, 'no attempt was refused').toBeDefined();
    const wait = limited!.details.retry_after_s;
    expect(Number.isSafeInteger(wait) && wait! >= 1).toBe(true);
    expect(limited!.message).toBe(`too many wrong passphrases — try again in ${wait}s`);
  });
});
