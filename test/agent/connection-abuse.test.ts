import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/frame.js';
import { eventually, isAlive, Sandbox } from '../support/sandbox.js';
import { RawConn } from '../protocol/wire.js';
import { killStrayAgents } from './helpers.js';

/**
 * The real agent against clients that misbehave on purpose: one that never reads, one that
 * sends a frame a byte at a time, a thousand that connect and say nothing. Each must cost
 * the agent bounded memory or one slot, and every other client must stay served.
 */
const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('the agent under misbehaving clients', () => {
  let sb: Sandbox;
  let pid: number;
  const sockets: Socket[] = [];
  beforeEach(async () => {
    sb = new Sandbox();
    pid = await sb.startAgent();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    killStrayAgents(sb);
    sb.cleanup();
  });

  it('a client that pipelines cached get_token and never reads: bounded memory, other clients served', async () => {
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_' + 'a'.repeat(36) })).code).toBe(0);
    const flood = await dial(sb.socket);
    sockets.push(flood);
    flood.on('error', () => {});
    flood.pause();
    const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeFrame({ v: 1, id: i + 1, op: 'get_token', args: { service: 'github', account: 'work' } })));
    const until = Date.now() + 4000;
    let stalled = false;
    while (Date.now() < until && !stalled) {
      if (!flood.write(batch)) {
        stalled = !(await new Promise<boolean>((r) => {
          const t = setTimeout(() => r(false), 1500);
          flood.once('drain', () => {
            clearTimeout(t);
            r(true);
          });
        }));
      }
    }
    // The agent stopped reading it (before the fix it read on, and answered into memory).
    expect(stalled).toBe(true);
    expect(rssMiB(pid)).toBeLessThan(150);
    // Everyone else is answered meanwhile, the token included.
    expect((await sb.status()).locked).toBe(false);
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: 'ghp_' + 'a'.repeat(36) + '\n' });
    expect(isAlive(pid)).toBe(true);
  });

  it('a frame trickled a byte at a time is cut off after 10 s with BAD_REQUEST; other clients are served meanwhile', async () => {
    const conn = await RawConn.open(sb.socket);
    conn.socket.write(Buffer.from([0, 0, 1])); // the length's last byte comes next: 256 bytes
    const trickle = setInterval(() => conn.socket.writable && conn.socket.write(Buffer.from([0])), 1000);
    try {
      expect((await sb.status()).pid).toBe(pid);
      await conn.answersAtLeast(1, 15_000);
    } finally {
      clearInterval(trickle);
    }
    expect(conn.answers).toEqual([{ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'a frame did not arrive whole within 10 s; closing the connection' } }]);
    await eventually(() => conn.closed);
  }, 30_000);

  it('1100 idle connections do not lock anyone out: the ones idle longest make room', async () => {
    const closed = new Set<number>();
    for (let i = 0; i < 1100; i++) {
      const s = await dial(sb.socket);
      s.on('error', () => {});
      s.on('close', () => closed.add(i));
      s.resume(); // so that the agent's close is seen
      sockets.push(s);
    }
    // The status command is connection 1101: it gets in, and so does sigil-token.
    expect((await sb.status()).pid).toBe(pid);
    expect((await sb.token('github', 'work')).code).toBe(4); // locked: it was answered
    // The first ones opened were closed to make room, oldest first: 76 for the idle ones past
    // 1024, one more for the status command (sigil-token came after it had gone).
    const evicted = 1100 - 1024 + 1;
    await eventually(() => closed.size >= evicted);
    expect([...closed].sort((a, b) => a - b)).toEqual(Array.from({ length: evicted }, (_, i) => i));
  }, 60_000);
});
