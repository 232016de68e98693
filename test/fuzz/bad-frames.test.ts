import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { encodeFrame, MAX_FRAME } from '../../src/protocol/frame.js';
import { OPS } from '../../src/protocol/op-catalog.js';
import { encode } from '../../src/protocol/msgpack.js';
import { Rng } from '../support/rng.js';
import { eventually, isAlive, Sandbox } from '../support/sandbox.js';
import { header, RawConn, rawFrame } from '../protocol/wire.js';

/*
 * 10k+ bad frames at the real agent over many connections, while a well-behaved client
 * keeps asking for `status` and a token. Every frame is generated with the answer it must
 * get, so each answer is checked, not merely counted.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONNECTIONS = 50;
const FRAMES_PER_CONNECTION = 210;
const ABRUPT_CONNECTIONS = 20; // closed mid-stream without waiting for anything
const CONCURRENCY = 8;
const TOKEN = 'fuzz-token-' + 'q'.repeat(24);

/** What one frame must be answered with: `ok`, or one of `codes`; `id` null for frames without a usable id. */
interface Expect {
  id: number | null;
  ok?: true;
  codes?: readonly string[];
  what: string;
}

const MAP_TAGS = new Set([...Array.from({ length: 16 }, (_, i) => 0x80 + i), 0xde, 0xdf]);
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
/** Ops whose argument checks come before any effect: wrong-typed arguments must get BAD_REQUEST. */
const ARG_CHECKED: Array<[string, string, Record<string, unknown>]> = [
  ['get_token', 'service', { account: 'fuzz' }],
  ['get_token', 'account', { service: 'github' }],
  ['get_account', 'service', { account: 'x' }],
  ['set_token', 'service', { account: 'a', access_token: 'x' }],
  ['add_account', 'account', { service: 'github' }],
  ['get_secret', 'name', {}],
  ['set_secret', 'name', { value: 'v' }],
  ['delete_secret', 'name', {}],
  ['resolve', 'ref', {}],
];

function wrongValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.range(-1000, 1000),
    () => rng.next() * 1e6,
    () => [rng.int(5)],
    () => ({ x: rng.int(5) }),
    () => true,
    () => false,
    () => rng.bytes(rng.int(8)),
    () => -(2 ** 40),
  ])();
}

function nonMapValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.range(-(2 ** 31), 2 ** 31),
    () => rng.text(40),
    () => [rng.int(9), rng.text(5), null],
    () => null,
    () => true,
    () => rng.bytes(rng.int(40)),
    () => rng.next(),
    () => 'x'.repeat(rng.range(32, 70_000)),
  ])();
}

class FrameFactory {
  private nextId: number;
  constructor(
    private readonly rng: Rng,
    base: number,
  ) {
    this.nextId = base;
  }

  private id(): number {
    return this.nextId++;
  }

  /** One non-fatal frame and the answer it must get. */
  frame(): { bytes: Buffer; expect: Expect } {
    const rng = this.rng;
    const kind = rng.int(100);
    if (kind < 12) {
      // random bytes that cannot start a map: never a request
      const body = rng.bytes(rng.range(1, 64));
      while (MAP_TAGS.has(body[0]!)) body[0] = rng.int(256);
      return { bytes: rawFrame(body), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: 'random bytes' } };
    }
    if (kind < 16) {
      // random bytes that do start with a map header: undecodable or a map without a usable envelope
      const body = Buffer.concat([Buffer.from([rng.pick([0x81, 0x83, 0x84, 0x8f, 0xde, 0xdf])]), rng.bytes(rng.range(0, 40))]);
      return {
        bytes: rawFrame(body),
        expect: { id: null, codes: [ErrorCode.BAD_REQUEST, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.UNKNOWN_OP], what: 'random map-ish bytes' },
      };
    }
    if (kind < 26) return { bytes: encodeFrame(nonMapValue(rng)), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: 'valid msgpack, not a map' } };
    if (kind < 32) {
      const full = encode({ v: 1, id: this.id(), op: 'status', args: { pad: rng.text(20) } });
      return { bytes: rawFrame(full.subarray(0, rng.range(1, full.length - 1))), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: 'truncated msgpack' } };
    }
    if (kind < 36) {
      const body = Buffer.concat([encode({ v: 1, id: this.id(), op: 'status', args: {} }), rng.bytes(rng.range(1, 10))]);
      return { bytes: rawFrame(body), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: 'trailing bytes in a frame' } };
    }
    if (kind < 44) {
      const badId = rng.pick<unknown>([-1, -(2 ** 40), 1.5, 2 ** 53, 2 ** 60, '7', null, [], {}, true, Buffer.from([1]), undefined]);
      const msg: Record<string, unknown> = { v: 1, op: 'status', args: {} };
      if (badId !== undefined) msg.id = badId;
      return { bytes: encodeFrame(msg), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: `bad id ${JSON.stringify(badId)}` } };
    }
    if (kind < 54) {
      const id = this.id();
      const v = rng.pick<unknown>([2, 0, 3, -1, '1', null, 1.5, [1], true, undefined, 2 ** 32]);
      const msg: Record<string, unknown> = { id, op: 'status', args: {} };
      if (v !== undefined) msg.v = v;
      return { bytes: encodeFrame(msg), expect: { id, codes: [ErrorCode.UNSUPPORTED_VERSION], what: `bad v ${JSON.stringify(v)}` } };
    }
    if (kind < 62) {
      const id = this.id();
      const op = rng.pick<unknown>([5, null, [], {}, true, Buffer.from('status'), '', undefined, 1.5]);
      const msg: Record<string, unknown> = { v: 1, id, args: {} };
      if (op !== undefined) msg.op = op;
      return { bytes: encodeFrame(msg), expect: { id, codes: [ErrorCode.BAD_REQUEST], what: `bad op type ${JSON.stringify(op)}` } };
    }
    if (kind < 70) {
      const id = this.id();
      const args = rng.pick<unknown>([5, 'x', [], [1, 2], true, Buffer.from([0]), 1.5]);
      return { bytes: encodeFrame({ v: 1, id, op: rng.pick(['status', 'get_token', 'hello']), args }), expect: { id, codes: [ErrorCode.BAD_REQUEST], what: 'bad args type' } };
    }
    if (kind < 80) {
      const id = this.id();
      let op = rng.chance(0.3) ? rng.pick(PROTOTYPE_NAMES) : rng.text(rng.chance(0.05) ? 3000 : 24);
      if ((OPS as readonly string[]).includes(op) || op === '') op = `x_${op}`;
      return { bytes: encodeFrame({ v: 1, id, op, args: {} }), expect: { id, codes: [ErrorCode.UNKNOWN_OP], what: 'unknown op' } };
    }
    if (kind < 92) {
      const id = this.id();
      const [op, field, rest] = rng.pick(ARG_CHECKED);
      return {
        bytes: encodeFrame({ v: 1, id, op, args: { ...rest, [field]: wrongValue(rng) } }),
        expect: { id, codes: [ErrorCode.BAD_REQUEST], what: `${op} with a wrong-typed ${field}` },
      };
    }
    if (kind < 93) {
      // large but legal lengths, up to exactly the cap, full of junk
      const n = rng.chance(0.2) ? MAX_FRAME : rng.range(60_000, MAX_FRAME);
      const body = Buffer.alloc(n, rng.int(256));
      body[0] = 0xc1; // never used in msgpack: undecodable whatever the rest holds
      return { bytes: rawFrame(body), expect: { id: null, codes: [ErrorCode.BAD_REQUEST], what: `junk body of ${n} bytes` } };
    }
    // a good request in the middle of the garbage
    const id = this.id();
    return { bytes: encodeFrame({ v: 1, id, op: 'status', args: {} }), expect: { id, ok: true, what: 'status' } };
  }
}

type Ending =
  | { kind: 'zero'; tail: Buffer } // zero length (maybe more junk behind it): BAD_REQUEST, close
  | { kind: 'huge'; tail: Buffer } // declared length over the cap: FRAME_TOO_LARGE, close
  | { kind: 'garbage-after-valid'; tail: Buffer } // a valid frame and junk in one write
  | { kind: 'mid-frame' } // header and part of a body, then the client shuts down its side
  | { kind: 'clean' };

function pickEnding(rng: Rng): Ending {
  switch (rng.int(5)) {
    case 0:
      return { kind: 'zero', tail: Buffer.concat([header(0), rng.bytes(rng.int(30))]) };
    case 1: {
      const n = rng.chance(0.3) ? MAX_FRAME + 1 : rng.range(MAX_FRAME + 1, 0xffffffff);
      return { kind: 'huge', tail: Buffer.concat([header(n), rng.bytes(rng.int(3000))]) };
    }
    case 2: {
      const junk = rng.bytes(rng.range(4, 200));
      junk[0] = rng.range(1, 255); // a length of at least 16 MiB: FRAME_TOO_LARGE
      return { kind: 'garbage-after-valid', tail: junk };
    }
    case 3:
      return { kind: 'mid-frame' };
    default:
      return { kind: 'clean' };
  }
}

/** Cuts bytes into 1..maxPieces writes at random points (mid-header and mid-body included). */
function cut(rng: Rng, bytes: Buffer, maxPieces: number): Buffer[] {
  const pieces = rng.range(1, maxPieces);
  const points = Array.from({ length: pieces - 1 }, () => rng.int(bytes.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  return out;
}

interface Tally {
  frames: number;
  answers: number;
  closedAfterLengthError: number;
  byWhat: Map<string, number>;
}

async function fuzzConnection(socket: string, rng: Rng, connIndex: number, tally: Tally): Promise<void> {
  const factory = new FrameFactory(rng, rng.chance(0.5) ? connIndex * 10_000 : 2 ** 40 + connIndex * 10_000);
  const frames = Array.from({ length: FRAMES_PER_CONNECTION + rng.int(20) }, () => factory.frame());
  const ending = pickEnding(rng);
  const expects = frames.map((f) => f.expect);
  let fatal: string | null = null;
  let lastWrite: Buffer | null = null;
  if (ending.kind === 'zero') {
    fatal = ErrorCode.BAD_REQUEST;
    lastWrite = ending.tail;
  } else if (ending.kind === 'huge') {
    fatal = ErrorCode.FRAME_TOO_LARGE;
    lastWrite = ending.tail;
  } else if (ending.kind === 'garbage-after-valid') {
    fatal = ErrorCode.FRAME_TOO_LARGE;
    const id = 9_000_000 + connIndex;
    expects.push({ id, ok: true, what: 'status before garbage' });
    lastWrite = Buffer.concat([encodeFrame({ v: 1, id, op: 'status', args: {} }), ending.tail]);
  } else if (ending.kind === 'mid-frame') {
    const n = rng.range(2, 5000);
    lastWrite = Buffer.concat([header(n), rng.bytes(rng.int(n))]); // at most n-1 bytes of body
  }

  const conn = await RawConn.open(socket);
  try {
    for (const piece of cut(rng, Buffer.concat(frames.map((f) => f.bytes)), 40)) {
      await conn.write(piece);
      if (rng.chance(0.3)) await new Promise((r) => setTimeout(r, rng.int(3)));
    }
    if (lastWrite) await conn.write(lastWrite);
    if (ending.kind === 'mid-frame') conn.socket.end();
    tally.frames += frames.length + (ending.kind === 'clean' ? 0 : 1);

    const wanted = expects.length + (fatal ? 1 : 0);
    await conn.answersAtLeast(wanted, 20_000);
    if (fatal || ending.kind === 'mid-frame') await conn.whenClosed(10_000);
    expect(conn.protocolError).toBeNull();
    expect(conn.answers.length, `connection ${connIndex}: answers`).toBe(wanted);
    tally.answers += conn.answers.length;

    const answers = [...conn.answers];
    if (fatal) {
      const last = answers.pop()!;
      expect(last, `connection ${connIndex} (${ending.kind}): the length error comes last`).toMatchObject({ id: null, ok: false, error: { code: fatal } });
      tally.closedAfterLengthError++;
    }
    // Answers with ids are matched exactly; those without come in frame order (they are
    // answered as soon as the frame is read), so they are matched by position.
    const byId = new Map(answers.filter((a) => a.id !== null).map((a) => [a.id!, a]));
    const nullAnswers = answers.filter((a) => a.id === null);
    const nullExpects = expects.filter((e) => e.id === null);
    expect(byId.size + nullAnswers.length).toBe(answers.length); // no duplicate ids
    expect(nullAnswers.length, `connection ${connIndex}: answers without an id`).toBe(nullExpects.length);
    nullExpects.forEach((e, i) => {
      const a = nullAnswers[i]!;
      expect(a.ok, e.what).toBe(false);
      expect(e.codes, `${e.what}: got ${a.error?.code} (${a.error?.message})`).toContain(a.error?.code);
    });
    for (const e of expects.filter((x) => x.id !== null)) {
      const a = byId.get(e.id!);
      expect(a, `no answer for ${e.what} (id ${e.id})`).toBeDefined();
      if (e.ok) expect(a!.ok, `${e.what}: ${a!.error?.message}`).toBe(true);
      else {
        expect(a!.ok, e.what).toBe(false);
        expect(e.codes, `${e.what}: got ${a!.error?.code} (${a!.error?.message})`).toContain(a!.error?.code);
        expect(typeof a!.error?.message).toBe('string');
      }
    }
    for (const e of expects) tally.byWhat.set(e.what.split(' ')[0]!, (tally.byWhat.get(e.what.split(' ')[0]!) ?? 0) + 1);
  } finally {
    conn.close();
  }
}

/** A connection that writes part of a stream and vanishes without waiting for anything. */
async function abruptConnection(socket: string, rng: Rng, tally: Tally): Promise<void> {
  const factory = new FrameFactory(rng, 5_000_000);
  const frames = Array.from({ length: rng.range(1, 30) }, () => factory.frame().bytes);
  const stream = Buffer.concat(frames);
  const conn = await RawConn.open(socket);
  const upto = rng.int(stream.length);
  for (const piece of cut(rng, stream.subarray(0, upto), 5)) await conn.write(piece);
  tally.frames += frames.length;
  conn.close(); // mid-frame, mid-answer, whatever it happens to be
}

/**
 * The agent's open descriptors. The agent is not dumpable (src/agent/process-hardening.ts),
 * so unless we are root /proc/PID/fd is closed to us: then its sockets are counted instead,
 * as /proc/net/unix lists them (an accepted connection carries the listening socket's path).
 */
function openFds(pid: number, socket: string): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') return -1; // no /proc: the check is skipped
    return readFileSync('/proc/net/unix', 'utf8').split('\n').filter((l) => l.endsWith(` ${socket}`)).length;
  }
}

describe('the agent under 10k+ bad frames', () => {
  let sb: Sandbox;
  let pid: number;

  beforeAll(async () => {
    sb = new Sandbox();
    pid = await sb.startAgent();
    await sb.initAndUnlock();
    const set = await sb.sigil(['token', 'set', 'github', 'fuzz', '--stdin'], { input: TOKEN });
    expect(set.code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('answers every bad frame with an error frame (or closes after a length error), stays up and keeps serving others', async () => {
    const t0 = Date.now();
    const rng = new Rng(SEED);
    const tally: Tally = { frames: 0, answers: 0, closedAfterLengthError: 0, byWhat: new Map() };
    const fdsBefore = openFds(pid, sb.socket);

    // the well-behaved client, on its own connection for the whole run
    const good = await AgentClient.connect({ socketPath: sb.socket, clientName: 'fuzz-observer' });
    let stop = false;
    let goodStatus = 0;
    let goodTokens = 0;
    let goodWorst = 0;
    const goodLoop = (async () => {
      while (!stop) {
        const s0 = Date.now();
        const st = await good.request<{ locked: boolean; pid: number }>('status', {}, { timeoutMs: 5000 });
        expect(st).toMatchObject({ locked: false, pid });
        goodStatus++;
        const tok = await good.request<{ access_token: string }>('get_token', { service: 'github', account: 'fuzz' }, { timeoutMs: 5000 });
        // compared as a boolean so a failure never prints the token
        expect(tok.access_token === TOKEN, 'get_token returned the stored token').toBe(true);
        goodTokens++;
        goodWorst = Math.max(goodWorst, Date.now() - s0);
        await new Promise((r) => setTimeout(r, 2));
      }
    })().then(
      () => null,
      (err: unknown) => err as Error, // reported after the fuzz, with the seed
    );

    try {
      const jobs: Array<(r: Rng) => Promise<void>> = [];
      for (let i = 0; i < CONNECTIONS; i++) jobs.push((r) => fuzzConnection(sb.socket, r, i, tally));
      for (let i = 0; i < ABRUPT_CONNECTIONS; i++) jobs.splice(rng.int(jobs.length + 1), 0, (r) => abruptConnection(sb.socket, r, tally));
      let next = 0;
      // each job gets its own generator, seeded from the run's seed: reproducible under any interleaving
      const seeds = jobs.map(() => rng.int(2 ** 31));
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const i = next++;
          await jobs[i]!(new Rng(seeds[i]!));
          expect(isAlive(pid), 'agent alive').toBe(true);
        }
      });
      await Promise.all(workers);
    } catch (err) {
      throw new Error(`fuzz failed (FUZZ_SEED=${SEED}): ${(err as Error).message}`, { cause: err });
    } finally {
      stop = true;
    }
    const goodError = await goodLoop;
    if (goodError) throw new Error(`the well-behaved client failed during the fuzz (FUZZ_SEED=${SEED}): ${goodError.message}`, { cause: goodError });

    expect(isAlive(pid)).toBe(true);
    expect(tally.frames).toBeGreaterThanOrEqual(10_000);
    expect(tally.closedAfterLengthError).toBeGreaterThan(5);
    expect(goodStatus).toBeGreaterThan(10);
    expect(goodTokens).toBeGreaterThan(10);

    // still answering at the end, on the old connection and a new one
    expect(await good.request('status')).toMatchObject({ locked: false, pid });
    good.close();
    const fresh = await AgentClient.connect({ socketPath: sb.socket });
    const tok = await fresh.request<{ access_token: string }>('get_token', { service: 'github', account: 'fuzz' });
    expect(tok.access_token === TOKEN).toBe(true);
    fresh.close();

    // every fuzz connection was let go: no descriptor is held for a client that left
    if (fdsBefore > 0) await eventually(() => openFds(pid, sb.socket) <= fdsBefore + 1, 10_000);

    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(
      `bad-frames: seed ${SEED}, ${tally.frames} frames over ${CONNECTIONS + ABRUPT_CONNECTIONS} connections, ${tally.answers} answers checked, ` +
        `${tally.closedAfterLengthError} closed after a length error; observer: ${goodStatus} status + ${goodTokens} get_token, worst ${goodWorst} ms; ${secs} s`,
    );
  });
});
