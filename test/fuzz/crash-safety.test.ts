import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { Sandbox, TEST_PASSPHRASE } from '../support/sandbox.js';

/*
 * kill -9 the real agent at random moments while it writes the vault, restart it on the
 * same (now stale) socket, unlock, and check the vault: it must decrypt, and the key being
 * written must hold the last acknowledged value or the one in flight — never an older one,
 * never a mix. The other entries must be untouched.
 */

const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const MIN_ACKED = 200;
const MIN_KILLS = 20;
const MAX_ROUNDS = 300; // a loaded machine acknowledges fewer writes per round: the time budget is the real cap
const TIME_BUDGET_MS = 50_000;
const KEY = 'crash/counter';
const KEEP = 40; // other entries, so every write re-encrypts a vault of some size

function keepValue(i: number): string {
  return `keep-${i}-` + String.fromCharCode(97 + (i % 26)).repeat(500 + i);
}

/** mulberry32, for reproducible kill delays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('crash safety of vault writes', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(() => sb.cleanup());

  it('keeps the old or the new value through 20+ kill -9 during 200+ acknowledged writes', async () => {
    const t0 = Date.now();
    const random = rng(SEED);
    let acked = 0; // writes of KEY the agent acknowledged, over all rounds
    let kills = 0;
    let rounds = 0;
    let lastAcked = 0; // last value of KEY acknowledged
    let inFlight: number | null = null; // value sent and not (yet) acknowledged when the agent died
    let recoveredInFlight = 0; // restarts where the in-flight value had made it to disk
    const delays: number[] = [];
    let writeMs = 10; // one vault write on this machine, measured in the first round

    const where = (): string => `(CRASH_SEED=${SEED}, round ${rounds})`;

    while ((acked < MIN_ACKED || kills < MIN_KILLS) && rounds < MAX_ROUNDS && Date.now() - t0 < TIME_BUDGET_MS) {
      // A new agent each round; from the second on, the socket file left by the killed one is
      // still there and must be replaced.
      const pid = await sb.startAgent();
      const client = await AgentClient.connect({ socketPath: sb.socket });
      try {
        expect(await client.request('status'), where()).toMatchObject({ locked: true, pid });
        if (rounds === 0) {
          const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: TEST_PASSPHRASE + '\n' });
          expect(init.code, init.stderr).toBe(0);
        }
        // Unlocking decrypts the vault: after a crash it must still be whole.
        await client.request('unlock', { passphrase: TEST_PASSPHRASE });

        if (rounds === 0) {
          const w0 = Date.now();
          for (let i = 0; i < KEEP; i++) await client.request('set_secret', { name: `keep/${i}`, value: keepValue(i) });
          await client.request('set_secret', { name: KEY, value: '0' });
          writeMs = (Date.now() - w0) / (KEEP + 1);
        } else {
          const got = await client.request<{ value: string }>('get_secret', { name: KEY });
          const value = Number(got.value);
          const allowed = inFlight === null ? [lastAcked] : [lastAcked, inFlight];
          expect(allowed, `${KEY} after a kill: got ${got.value}, acknowledged ${lastAcked}, in flight ${inFlight} ${where()}`).toContain(value);
          if (inFlight !== null && value === inFlight) recoveredInFlight++;
          lastAcked = value; // what is on disk now counts as written
          const names = (await client.request<{ names: string[] }>('list_secrets', { prefix: 'keep/' })).names;
          expect(names.length, where()).toBe(KEEP);
          // a few of the other entries, in full (comparing as booleans keeps values out of the log)
          for (const i of [0, rounds % KEEP, KEEP - 1]) {
            const keep = await client.request<{ value: string }>('get_secret', { name: `keep/${i}` });
            expect(keep.value === keepValue(i), `keep/${i} intact ${where()}`).toBe(true);
          }
          expect(await client.request('status'), where()).toMatchObject({ locked: false, secrets: KEEP + 1 });
        }
        inFlight = null;

        // Write, one value after another, until the agent dies under us.
        const writer = (async () => {
          for (let n = lastAcked + 1; ; n++) {
            inFlight = n;
            try {
              await client.request('set_secret', { name: KEY, value: String(n) }, { timeoutMs: 10_000 });
            } catch (err) {
              if (err instanceof SigilError && err.code === ErrorCode.NO_AGENT) return; // killed: n stays in flight
              throw err;
            }
            lastAcked = n;
            inFlight = null;
            acked++;
          }
        })();
        // Kill at a random moment: sometimes within the first write, mostly after a random
        // number of writes, paced by how fast this machine writes so that both targets (kills
        // and acknowledged writes) are met within the budget.
        const perRound = Math.max(3, (MIN_ACKED - acked) / Math.max(1, MIN_KILLS - kills));
        const delay = random() < 0.15 ? random() * writeMs : writeMs * perRound * (0.2 + 1.6 * random());
        delays.push(delay);
        await new Promise((res) => setTimeout(res, delay));
        process.kill(pid, 'SIGKILL');
        kills++;
        await writer; // ends when the connection drops, i.e. once the agent is gone
      } finally {
        client.close();
      }
      rounds++;
    }

    // A last restart to check the state the final kill left.
    const pid = await sb.startAgent();
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      await client.request('unlock', { passphrase: TEST_PASSPHRASE });
      const got = Number((await client.request<{ value: string }>('get_secret', { name: KEY })).value);
      expect(inFlight === null ? [lastAcked] : [lastAcked, inFlight], `final value ${got} ${where()}`).toContain(got);
      expect((await client.request<{ names: string[] }>('list_secrets', { prefix: 'keep/' })).names.length).toBe(KEEP);
      expect(await client.request('status')).toMatchObject({ pid, secrets: KEEP + 1 });
    } finally {
      client.close();
    }

    const elapsed = Date.now() - t0;
    const dataDir = join(sb.home, 'data', 'sigilforge');
    const leftovers = readdirSync(dataDir).filter((f) => f.endsWith('.tmp'));
    // Unlock sweeps the temp files of writers that died. One may be left only if its pid
    // still shows in /proc (a zombie nobody reaped yet counts as alive to kill(pid, 0)).
    const leftoverStates = leftovers.map((f) => {
      const pidOf = Number(/\.(\d+)\.[0-9a-f]+\.tmp$/.exec(f)?.[1]);
      let state = 'gone';
      try {
        state = readFileSync(`/proc/${pidOf}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '?';
      } catch {
        // no such process
      }
      return `${pidOf}:${state}`;
    });
    for (const st of leftoverStates) expect(st, `temp file of a dead writer not swept: ${st}`).not.toMatch(/:gone$/);
    console.log(
      `crash-safety: seed ${SEED}, ${kills} kills over ${rounds} rounds, ${acked} acknowledged writes (+${KEEP + 1} setup), ` +
        `${recoveredInFlight} restarts found the in-flight value on disk, median kill delay ${delays.sort((a, b) => a - b)[delays.length >> 1]?.toFixed(0)} ms (one write ≈ ${writeMs.toFixed(1)} ms), ` +
        `${leftovers.length} temp files left [${leftoverStates.join(' ')}], ${(elapsed / 1000).toFixed(1)} s`,
    );
    expect(kills, where()).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(acked, where()).toBeGreaterThanOrEqual(MIN_ACKED);
  });
});
