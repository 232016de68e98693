import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSyncClient, syncClientFile, type ExchangeError, type SyncClient } from '../../src/native/sync-client.js';
import { encodeFrame, MAX_FRAME } from '../../src/protocol/frame.js';
import { startFakeAgent, staleSocket, type FakeAgent, type Step } from '../support/fake-agent.js';
import { eventually, ROOT } from '../support/sandbox.js';

/*
 * The native client's own contract (sync_client.c), against scripted fake agents on Unix
 * sockets: what it sends, what it returns, and the errno or protocol code of each failure.
 * How those become SigilErrors is test/client/sync-request.test.ts.
 */

const probe = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'scripts/build-native.mjs'), '--probe'], { cwd: ROOT, encoding: 'utf8' }).stdout) as {
  cc: string | null;
  include: string | null;
};
const BUILDABLE = Boolean(probe.cc && probe.include);
const FILE = syncClientFile(join(ROOT, 'dist/native'));

it('is built wherever a C compiler and the Node headers are present, and loads', () => {
  // Without this, a broken build would quietly turn every native test below into a skip.
  if (!BUILDABLE) return;
  expect(existsSync(FILE), FILE).toBe(true);
  expect(loadSyncClient(FILE)).not.toBeNull();
});

it('a missing or foreign addon loads as null (the caller falls back), without throwing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-native-'));
  try {
    expect(loadSyncClient(join(dir, 'none.node'))).toBeNull();
    writeFileSync(join(dir, 'junk.node'), 'not an ELF file');
    expect(loadSyncClient(join(dir, 'junk.node'))).toBeNull();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const body = (n: number, fill = 0x61) => Buffer.alloc(n, fill);
const frame = (b: Buffer) => Buffer.concat([header(b.length), b]);
const header = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n >>> 0);
  return h;
};
const REQUEST = Buffer.concat([encodeFrame({ v: 1, id: 1, op: 'hello', args: {} }), encodeFrame({ v: 1, id: 2, op: 'status', args: {} })]);

function failure(fn: () => unknown): ExchangeError {
  try {
    fn();
  } catch (err) {
    return err as ExchangeError;
  }
  throw new Error('expected exchange to throw');
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe.runIf(BUILDABLE)('native sync client: exchange()', () => {
  let client: SyncClient;
  let dir: string;
  let agent: FakeAgent | null;
  let server: Server | null = null;
  const serve = async (plan: Step[]) => (agent = await startFakeAgent(join(dir, 'agent.sock'), plan));
  const exchange = (path: string, frames = 2, timeoutMs = 5000, maxFrame = MAX_FRAME, request = REQUEST, agentUid = process.geteuid!()) =>
    client.exchange(path, request, frames, timeoutMs, 5000, maxFrame, agentUid);

  beforeEach(() => {
    client = loadSyncClient(FILE)!;
    dir = mkdtempSync(join(tmpdir(), 'sigil-native-'));
    agent = null;
  });
  afterEach(async () => {
    await agent?.stop();
    server?.close();
    server = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the request as is and returns the bodies of the frames asked for', async () => {
    const a = body(10, 0x41);
    const b = body(3000, 0x42);
    const s = await serve([{ read: 2 }, { send: frame(a) }, { send: frame(b) }]);
    const got = exchange(s.path);
    expect(got).toEqual([a, b]);
    expect(await s.request(0)).toEqual(REQUEST);
  });

  it('takes two frames coalesced in one write, and leaves what follows them alone', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([frame(body(5, 1)), frame(body(6, 2)), header(0)]) }]);
    expect(exchange(s.path)).toEqual([body(5, 1), body(6, 2)]);
  });

  it('takes an answer split byte by byte across many writes', async () => {
    const first = body(40, 3);
    const second = body(90, 4);
    const s = await serve([{ read: 2 }, { trickle: Buffer.concat([frame(first), frame(second)]) }]);
    expect(exchange(s.path)).toEqual([first, second]);
  });

  it('takes a frame larger than its first read buffer, and a request larger than the socket buffer', async () => {
    const big = Buffer.alloc(MAX_FRAME);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    // ~1 MiB out: more than the kernel buffers, so the write must wait for the reader.
    const request = frame(Buffer.alloc(MAX_FRAME, 7));
    const s = await serve([{ read: 1 }, { send: frame(big) }]);
    // equals(), not toEqual(): a deep comparison of 1 MiB takes seconds.
    const got = exchange(s.path, 1, 10_000, MAX_FRAME, request);
    expect(got.length).toBe(1);
    expect(got[0]!.equals(big)).toBe(true);
    expect((await s.request(0)).equals(request)).toBe(true);
  });

  it('no socket: ENOENT from connect', () => {
    const e = failure(() => exchange(join(dir, 'none.sock')));
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ code: 'ENOENT', syscall: 'connect', frames: [] });
    expect(e.message).toBe('connect: No such file or directory');
  });

  it('a stale socket (its agent was killed): ECONNREFUSED from connect', () => {
    const e = failure(() => exchange(staleSocket(join(dir, 'stale.sock'))));
    expect(e).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
  });

  it('a path through a regular file: ENOTDIR', () => {
    writeFileSync(join(dir, 'file'), '');
    expect(failure(() => exchange(join(dir, 'file', 'agent.sock')))).toMatchObject({ code: 'ENOTDIR', syscall: 'connect' });
  });

  it('an agent that accepts and never answers: ETIMEDOUT once timeoutMs has passed', async () => {
    const s = await serve([{ read: 2 }]);
    const t0 = Date.now();
    const e = failure(() => exchange(s.path, 2, 250));
    const elapsed = Date.now() - t0;
    expect(e).toMatchObject({ code: 'ETIMEDOUT', syscall: 'read', frames: [] });
    expect(elapsed).toBeGreaterThanOrEqual(240);
    expect(elapsed).toBeLessThan(3000);
  });

  it('an agent that closes mid-frame: EOF, with the frames that came whole', async () => {
    const whole = body(8, 9);
    const cut = frame(body(100, 10)).subarray(0, 50);
    const s = await serve([{ read: 2 }, { send: Buffer.concat([frame(whole), cut]) }, { end: true }]);
    const e = failure(() => exchange(s.path));
    expect(e).toMatchObject({ code: 'EOF', syscall: 'read', frames: [whole] });
  });

  it('a length over the cap: FRAME_TOO_LARGE at the header, without waiting for the body', async () => {
    // The body never comes: a reader that buffered it first would sit here until the timeout.
    const s = await serve([{ read: 2 }, { send: Buffer.concat([frame(body(4, 1)), header(MAX_FRAME + 1)]) }]);
    const t0 = Date.now();
    const e = failure(() => exchange(s.path, 2, 10_000));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e).toMatchObject({ code: 'FRAME_TOO_LARGE', syscall: 'read', frameLength: MAX_FRAME + 1, frames: [body(4, 1)] });
    expect(e.message).toBe(`read: bad frame length ${MAX_FRAME + 1}`);
  });

  it('the cap is the caller’s: maxFrame bytes pass, one more does not', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([frame(body(100)), header(101)]) }]);
    const e = failure(() => exchange(s.path, 2, 5000, 100));
    expect(e).toMatchObject({ code: 'FRAME_TOO_LARGE', frameLength: 101, frames: [body(100)] });
  });

  it('the largest length there is (0xffffffff) is refused too', async () => {
    const s = await serve([{ read: 2 }, { send: header(0xffffffff) }]);
    expect(failure(() => exchange(s.path))).toMatchObject({ code: 'FRAME_TOO_LARGE', frameLength: 0xffffffff });
  });

  it('a zero length: BAD_REQUEST', async () => {
    const s = await serve([{ read: 2 }, { send: header(0) }]);
    expect(failure(() => exchange(s.path))).toMatchObject({ code: 'BAD_REQUEST', syscall: 'read', frameLength: 0, frames: [] });
  });

  it('closes its socket on every path: no descriptor outlives a call', async () => {
    const stale = staleSocket(join(dir, 'stale.sock'));
    const s = await serve([{ read: 2 }, { send: header(0) }]);
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      failure(() => exchange(join(dir, 'none.sock')));
      failure(() => exchange(stale));
      failure(() => exchange(s.path));
    }
    // The fake agent's ends of those connections live in this process too, and close a
    // moment later; a leak would leave at least 40 behind.
    await eventually(() => openFds() <= before);
  });

  it('a listener of another uid: EPEERUID with its uid and pid, and not a byte sent', async () => {
    // The listener is in this process, so runs as our uid: asking for any other uid must
    // fail. The native client never blocks on it (it refuses right after connect), so a
    // plain in-process server can record what arrived before the close.
    const got: Buffer[] = [];
    const closed = new Promise<void>((resolve) => {
      server = createServer((sock) => {
        sock.on('data', (d) => got.push(d));
        sock.on('close', () => resolve());
      });
    });
    const path = join(dir, 'other.sock');
    await new Promise<void>((resolve) => server!.listen(path, resolve));
    const me = process.geteuid!();
    const e = failure(() => exchange(path, 2, 5000, MAX_FRAME, REQUEST, me + 1));
    expect(e).toMatchObject({ code: 'EPEERUID', syscall: 'connect', peerUid: me, peerPid: process.pid });
    expect(e.message).toBe(`connect: the socket's listener runs as uid ${me}`);
    await closed;
    expect(Buffer.concat(got).length).toBe(0);
  });

  it('its own uid passes the check, and -1 (a platform without uids) checks nothing', async () => {
    const s = await serve([{ read: 2 }, { send: frame(body(3)) }, { send: frame(body(4)) }]);
    expect(exchange(s.path)).toEqual([body(3), body(4)]);
    expect(exchange(s.path, 2, 5000, MAX_FRAME, REQUEST, -1)).toEqual([body(3), body(4)]);
  });

  it.runIf(process.platform === 'linux')('peerCred(fd): the uid, gid and pid of a connected socket’s other end', async () => {
    const path = join(dir, 'peer.sock');
    server = createServer(() => {});
    await new Promise<void>((resolve) => server!.listen(path, resolve));
    const sock = connect(path);
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    try {
      const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
      expect(client.peerCred!(fd)).toEqual({ pid: process.pid, uid: process.geteuid!(), gid: process.getegid!() });
      let threw: unknown = null;
      try {
        client.peerCred!(-1);
      } catch (e) {
        threw = e;
      }
      expect(threw).toMatchObject({ name: 'TypeError', code: 'EINVAL' });
      // A descriptor that is no socket: the errno, as an error.
      const file = openSync(join(dir, 'plain'), 'w');
      try {
        expect(() => client.peerCred!(file)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
      } finally {
        closeSync(file);
      }
    } finally {
      sock.destroy();
    }
  });

  it('refuses bad arguments with a TypeError', () => {
    const c = client as unknown as { exchange(...args: unknown[]): unknown };
    expect(() => c.exchange(join(dir, 'x.sock'), 'not a buffer', 2, 1000, 1000, MAX_FRAME, 0)).toThrow(TypeError);
    expect(() => c.exchange(join(dir, 'x.sock'), REQUEST, 0, 1000, 1000, MAX_FRAME, 0)).toThrow(TypeError);
    expect(() => c.exchange(join(dir, 'x.sock'), REQUEST, 2, 1000, 1000, MAX_FRAME)).toThrow(TypeError);
  });
});
