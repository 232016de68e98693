import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/agent/agent-state.js';
import { ConnectionPool, connectionCap } from '../../src/agent/connection-pool.js';
import { serveConnection, type ConnectionHandle } from '../../src/agent/connection.js';
import { UNKNOWN_CALLER } from '../../src/agent/caller/caller.js';
import type { OpTable } from '../../src/agent/op-table.js';
import { encodeFrame, FrameDecoder, decodeBody } from '../../src/protocol/frame.js';
import { eventually } from '../support/sandbox.js';

/**
 * The connection layer alone, on a real Unix socket: its bounds (unsent answers, requests in
 * flight), the per-frame deadline, and the cap on connections. The agent's state is a stub:
 * these ops touch nothing but the connection.
 */
const stubState = { clock: { now: () => Date.now() }, policy: { check: () => null }, log: () => {}, lock: { requireStore: () => {}, used: () => {} }, audit: { record: () => {} } } as unknown as AgentState;
const PAD = 'x'.repeat(200);
const table: OpTable = {
  // Answered at once, as `hello` and a cached get_token are: no promise is involved.
  echo: { secret: false, audit: false, run: () => ({ pad: PAD }) },
  slow: { secret: false, audit: false, run: () => new Promise((r) => setTimeout(() => r({ pad: PAD }), 5)) },
};
const request = (id: number, op: string) => encodeFrame({ v: 1, id, op, args: {} });

describe('serveConnection', () => {
  let dir: string;
  let server: Server;
  let served: Socket[];
  let clients: Socket[];

  async function listen(frameDeadlineMs?: number): Promise<string> {
    const path = join(dir, 'agent.sock');
    server = createServer((s) => {
      served.push(s);
      serveConnection(s, stubState, table, UNKNOWN_CALLER, frameDeadlineMs ? { frameDeadlineMs } : {});
    });
    await new Promise<void>((r) => server.listen(path, r));
    return path;
  }
  async function dial(path: string): Promise<Socket> {
    const s = connect(path);
    s.on('error', () => {});
    clients.push(s);
    await new Promise<void>((r) => s.once('connect', () => r()));
    return s;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-conn-'));
    served = [];
    clients = [];
  });
  afterEach(async () => {
    for (const c of clients) c.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Writes batches of requests until the agent stops taking them (no drain for `stallMs`),
   * never reading; returns how many requests were written (some still in our buffer).
   */
  async function flood(sock: Socket, op: string, stallMs = 400, limit = 400_000): Promise<number> {
    const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => request(i + 1, op)));
    let written = 0;
    sock.pause(); // a client that never reads
    while (written < limit) {
      written += 1000;
      const ok = sock.write(batch);
      if (!ok) {
        const drained = await new Promise<boolean>((r) => {
          const t = setTimeout(() => r(false), stallMs);
          sock.once('drain', () => {
            clearTimeout(t);
            r(true);
          });
        });
        if (!drained) break;
      }
    }
    return written;
  }

  for (const op of ['echo', 'slow']) {
    it(`stops reading a client that pipelines ${op === 'echo' ? 'answers made at once' : 'async answers'} without reading, and loses none of them`, async () => {
      const path = await listen();
      const sock = await dial(path);
      // No drain for 2 s: stalled. (Shorter, a loaded machine can stall a flood the agent does
      // take, and the bug would go unseen.)
      const written = await flood(sock, op, 2000);
      // The bound holds: what the agent buffers for the client stays near 4 MiB (one chunk's
      // answers may go past it), instead of growing with every request; the flood stalled.
      const agentSide = served[0]!;
      expect(agentSide.writableLength).toBeLessThan(6 * 1024 * 1024);
      expect(written).toBeLessThan(400_000);
      // Once the client reads, every request it sent is answered, in full.
      const decoder = new FrameDecoder();
      let answers = 0;
      sock.on('data', (chunk: Buffer) => {
        for (const body of decoder.push(chunk)) {
          expect(decodeBody(body)).toMatchObject({ ok: true, result: { pad: PAD } });
          answers++;
        }
      });
      sock.resume();
      await eventually(() => answers >= written, 20_000);
      expect(answers).toBe(written);
    });
  }

  it('closes a connection whose frame does not arrive whole within the deadline (one byte a second)', async () => {
    const path = await listen(300);
    const sock = await dial(path);
    const got: Buffer[] = [];
    sock.on('data', (d) => got.push(d));
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.write(Buffer.from([0, 0, 0]));
    const trickle = setInterval(() => sock.writable && sock.write(Buffer.from([9])), 100);
    try {
      await eventually(() => closed, 5000);
    } finally {
      clearInterval(trickle);
    }
    const bodies = new FrameDecoder().push(Buffer.concat(got));
    expect(bodies.map((b) => decodeBody(b))).toEqual([
      { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'a frame did not arrive whole within 0.3 s; closing the connection' } },
    ]);
  });

  it('the deadline is per frame: a client sending frames steadily for longer is not closed', async () => {
    const path = await listen(300);
    const sock = await dial(path);
    let answers = 0;
    const decoder = new FrameDecoder();
    sock.on('data', (d: Buffer) => (answers += decoder.push(d).length));
    // Each frame takes ~200 ms to arrive (under the deadline); 6 of them take ~1.2 s.
    for (let i = 1; i <= 6; i++) {
      const f = request(i, 'echo');
      sock.write(f.subarray(0, 3));
      await new Promise((r) => setTimeout(r, 200));
      sock.write(f.subarray(3));
    }
    await eventually(() => answers === 6);
    expect(sock.destroyed).toBe(false);
  });

  it('an idle connection at a frame boundary has no deadline', async () => {
    const path = await listen(200);
    const sock = await dial(path);
    await new Promise((r) => setTimeout(r, 600));
    expect(sock.destroyed).toBe(false);
    expect(served[0]!.destroyed).toBe(false);
  });
});

describe('ConnectionPool', () => {
  const handle = (lastActive: number, busy = false): ConnectionHandle & { closed: boolean } => {
    const h = {
      lastActive,
      busy,
      closed: false,
      close() {
        h.closed = true;
      },
    };
    return h;
  };

  it('below the cap makes no room; at the cap closes the connection idle the longest', () => {
    const pool = new ConnectionPool(3);
    const [a, b, c] = [handle(30), handle(10), handle(20)];
    expect(pool.makeRoom()).toBeNull();
    for (const h of [a, b, c]) pool.add(h);
    expect(pool.makeRoom()).toBe(b);
    expect(b.closed).toBe(true);
    expect(pool.size).toBe(2);
  });

  it('never closes a busy connection (a flow, a long poll); all busy: no room', () => {
    const pool = new ConnectionPool(2);
    const [a, b] = [handle(1, true), handle(2)];
    pool.add(a);
    pool.add(b);
    expect(pool.makeRoom()).toBe(b);
    pool.add(handle(3, true));
    expect(pool.makeRoom()).toBe(false);
    expect(a.closed).toBe(false);
  });

  it('the cap follows the open-files limit, leaving descriptors for the rest of the agent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-limits-'));
    try {
      const file = (soft: string) => {
        const f = join(dir, `limits-${soft}`);
        writeFileSync(f, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 4096                 files\n`);
        return f;
      };
      expect(connectionCap(file('20000'))).toBe(1024);
      expect(connectionCap(file('unlimited'))).toBe(1024);
      expect(connectionCap(file('256'))).toBe(192);
      expect(connectionCap(join(dir, 'none'))).toBe(192);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
