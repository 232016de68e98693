import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { resolveSocketPath } from '../../src/client/agent-endpoint.js';
import { requestSync } from '../../src/client/sync-request.js';
import { loadSyncClient, syncClientFile, type SyncClient } from '../../src/native/sync-client.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { encodeFrame, FrameDecoder, decodeBody } from '../../src/protocol/frame.js';
import { startFakeAgent, staleSocket, type FakeAgent, type Step } from '../support/fake-agent.js';
import { ROOT } from '../support/sandbox.js';

/*
 * The two transports of one request, side by side against the same scripted agents: the
 * native client (requestSync) must send the same frames and fail with the same SigilError —
 * code and message, so sigil-token's stderr and exit code — as AgentClient does.
 */

const native = loadSyncClient(syncClientFile(join(ROOT, 'dist/native')));
const TOKEN = { access_token: 'tok_example', token_type: 'Bearer', expires_at: null };
const answer = (id: number | null, body: Record<string, unknown>) => encodeFrame({ id, ...body });
const ok = (id: number, result: Record<string, unknown>) => answer(id, { ok: true, result });
const err = (id: number | null, code: string, message: string) => answer(id, { ok: false, error: { code, message } });
const HELLO_OK = ok(1, { version: 1, agent: 'fake', pid: 1 });
const header = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n);
  return h;
};

type Outcome = { result: Record<string, unknown> } | { code: string; message: string };

function outcomeOf(fn: () => Record<string, unknown>): Outcome {
  try {
    return { result: fn() };
  } catch (e) {
    expect(e).toBeInstanceOf(SigilError);
    return { code: (e as SigilError).code, message: (e as SigilError).message };
  }
}

async function asyncOutcomeOf(fn: () => Promise<Record<string, unknown>>): Promise<Outcome> {
  try {
    return { result: await fn() };
  } catch (e) {
    expect(e).toBeInstanceOf(SigilError);
    return { code: (e as SigilError).code, message: (e as SigilError).message };
  }
}

describe.runIf(native)('requestSync (native client) and AgentClient: same frames, same answers, same errors', () => {
  let dir: string;
  let agents: FakeAgent[];
  let client: SyncClient;
  const env = (path: string) => ({ SIGIL_AUTH_SOCK: path });
  const ARGS = { service: 'github', account: 'work' };

  /** Both transports against `path` (one connection each); their outcomes must be equal. */
  async function both(path: string, timeoutMs?: number): Promise<Outcome> {
    const opts = timeoutMs === undefined ? {} : { timeoutMs };
    const sync = outcomeOf(() => requestSync(client, resolveSocketPath({ env: env(path) }), 'get_token', ARGS, { clientName: 'sigil-token', ...opts }));
    const viaNet = await asyncOutcomeOf(async () => {
      const c = await AgentClient.connect({ env: env(path), clientName: 'sigil-token' });
      try {
        return await c.request('get_token', ARGS, opts);
      } finally {
        c.close();
      }
    });
    expect(sync).toEqual(viaNet);
    return sync;
  }
  const serve = async (plan: Step[]) => {
    const a = await startFakeAgent(join(dir, `agent-${agents.length}.sock`), plan);
    agents.push(a);
    return a;
  };

  beforeEach(() => {
    client = native!;
    dir = mkdtempSync(join(tmpdir(), 'sigil-sync-'));
    agents = [];
  });
  afterEach(async () => {
    for (const a of agents) await a.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the hello and the request with the same ids and bytes as AgentClient', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([HELLO_OK, ok(2, TOKEN)]) }]);
    expect(await both(s.path)).toEqual({ result: TOKEN });
    const [sync, viaNet] = [await s.request(0), await s.request(1)];
    expect(sync).toEqual(viaNet);
    const decoder = new FrameDecoder();
    expect(decoder.push(sync).map((b) => decodeBody(b))).toEqual([
      { v: 1, id: 1, op: 'hello', args: { client: 'sigil-token', versions: [1] } },
      { v: 1, id: 2, op: 'get_token', args: ARGS },
    ]);
  });

  it('answers in either order, split byte by byte', async () => {
    const s = await serve([{ read: 2 }, { trickle: Buffer.concat([ok(2, TOKEN), HELLO_OK]) }]);
    expect(await both(s.path)).toEqual({ result: TOKEN });
  });

  it('an error answer is the request’s SigilError', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([HELLO_OK, err(2, 'LOCKED', 'agent is locked — run: sigil unlock')]) }]);
    expect(await both(s.path)).toEqual({ code: ErrorCode.LOCKED, message: 'agent is locked — run: sigil unlock' });
  });

  it('a failed hello is not the request’s failure (the request answers for itself)', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([err(1, 'UNSUPPORTED_VERSION', 'no common version'), ok(2, TOKEN)]) }]);
    expect(await both(s.path)).toEqual({ result: TOKEN });
    const t = await serve([{ read: 2 }, { send: Buffer.concat([err(1, 'UNSUPPORTED_VERSION', 'no version in common'), err(2, 'UNSUPPORTED_VERSION', 'no version in common')]) }]);
    expect(await both(t.path)).toEqual({ code: ErrorCode.UNSUPPORTED_VERSION, message: 'no version in common' });
  });

  it('an error about the connection (no id) fails the request', async () => {
    const s = await serve([{ read: 2 }, { send: err(null, 'FRAME_TOO_LARGE', 'frame of 2000000 bytes exceeds the 1 MiB limit') }, { end: true }]);
    expect(await both(s.path)).toEqual({ code: ErrorCode.FRAME_TOO_LARGE, message: 'frame of 2000000 bytes exceeds the 1 MiB limit' });
  });

  it('no agent: NO_AGENT naming $SIGIL_AUTH_SOCK or the default path', async () => {
    const missing = join(dir, 'none.sock');
    expect(await both(missing)).toEqual({ code: ErrorCode.NO_AGENT, message: `no agent answers at SIGIL_AUTH_SOCK=${missing} (no such socket) — start one with: eval "$(sigil-agent)"` });
    // No SIGIL_AUTH_SOCK: the default path under XDG_RUNTIME_DIR, named bare.
    const e = { XDG_RUNTIME_DIR: dir };
    const sync = outcomeOf(() => requestSync(client, resolveSocketPath({ env: e }), 'get_token', ARGS));
    const viaNet = await asyncOutcomeOf(() => AgentClient.connect({ env: e }).then((c) => c.request('get_token', ARGS)));
    expect(sync).toEqual(viaNet);
    expect(sync).toEqual({ code: ErrorCode.NO_AGENT, message: `no agent answers at ${join(dir, 'sigilforge/agent.sock')} (no such socket) — start one with: eval "$(sigil-agent)"` });
  });

  it('a stale socket: NO_AGENT, nothing listening', async () => {
    const stale = staleSocket(join(dir, 'stale.sock'));
    expect(await both(stale)).toEqual({ code: ErrorCode.NO_AGENT, message: `no agent answers at SIGIL_AUTH_SOCK=${stale} (nothing listening) — start one with: eval "$(sigil-agent)"` });
  });

  it('an agent that never answers: NO_AGENT after the request timeout', async () => {
    const s = await serve([{ read: 2 }]);
    expect(await both(s.path, 300)).toEqual({ code: ErrorCode.NO_AGENT, message: `the agent at ${s.path} did not answer "get_token" within 300 ms` });
  });

  it('an agent that closes mid-frame: NO_AGENT, closed the connection', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([HELLO_OK, ok(2, TOKEN).subarray(0, 20)]) }, { end: true }]);
    expect(await both(s.path)).toEqual({ code: ErrorCode.NO_AGENT, message: `the agent at ${s.path} closed the connection` });
  });

  it('an answer that came whole before the agent closed still counts', async () => {
    const s = await serve([{ read: 2 }, { send: ok(2, TOKEN) }, { end: true }]);
    expect(await both(s.path)).toEqual({ result: TOKEN });
  });

  it('a length over 1 MiB or of zero: the frame error, as the decoder words it', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([HELLO_OK, header(0x7fffffff)]) }]);
    expect(await both(s.path)).toEqual({ code: ErrorCode.FRAME_TOO_LARGE, message: `frame of ${0x7fffffff} bytes exceeds the 1 MiB limit` });
    const t = await serve([{ read: 2 }, { send: header(0) }]);
    expect(await both(t.path)).toEqual({ code: ErrorCode.BAD_REQUEST, message: 'zero-length frame' });
  });

  it('a frame that is not MessagePack: INTERNAL', async () => {
    const s = await serve([{ read: 2 }, { send: Buffer.concat([header(1), Buffer.from([0xc1]), HELLO_OK]) }]);
    expect(await both(s.path)).toEqual({ code: ErrorCode.INTERNAL, message: 'the agent sent an undecodable frame' });
  });
});
