import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient, requestOnce } from '../../src/client/agent-client.js';
import { ErrorCode, EXIT_CODES } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { decodeBody, encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { BIN, Sandbox, TEST_PASSPHRASE, TEST_WORK_FACTOR } from '../support/sandbox.js';
import { header, RawConn } from './wire.js';

/*
 * The client library against the real agent (a built binary in a temporary HOME), and
 * against small servers written here for what an agent never does (never answering).
 */

async function rejection(p: Promise<unknown>): Promise<SigilError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SigilError);
    return err as SigilError;
  }
  throw new Error('expected the promise to reject');
}

describe('AgentClient against the real agent', () => {
  let sb: Sandbox;
  let pid: number;

  beforeAll(async () => {
    sb = new Sandbox();
    pid = await sb.startAgent();
    // a vault to unlock (left locked): some tests need an op that takes a while
    const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: TEST_PASSPHRASE + '\n' });
    expect(init.code).toBe(0);
  });
  afterAll(() => sb.cleanup());

  it('pipelines 500 requests on one connection and matches every answer by id', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      type Expect = { kind: 'status' } | { kind: 'missing'; account: string } | { kind: 'bad'; service: string } | { kind: 'hello' };
      const plan: Expect[] = [];
      const promises: Array<Promise<unknown>> = [];
      for (let i = 0; i < 500; i++) {
        let e: Expect;
        switch (i % 5) {
          case 0:
          case 3:
            e = { kind: 'status' };
            promises.push(client.request('status'));
            break;
          case 1:
          case 4:
            e = { kind: 'missing', account: `acct-${i}` };
            promises.push(client.request('get_account', { service: 'github', account: e.account }));
            break;
          default:
            if (i % 10 === 2) {
              e = { kind: 'bad', service: `Bad Service ${i}` };
              promises.push(client.request('get_account', { service: e.service, account: 'x' }));
            } else {
              e = { kind: 'hello' };
              promises.push(client.request('hello', { client: `pipeline-${i}`, versions: [1] }));
            }
        }
        plan.push(e);
      }
      // Nothing was awaited above: all 500 frames are on the wire before the first answer.
      const settled = await Promise.allSettled(promises);
      let ok = 0;
      let errors = 0;
      settled.forEach((s, i) => {
        const e = plan[i]!;
        if (e.kind === 'status') {
          expect(s.status, `request ${i}`).toBe('fulfilled');
          const r = (s as PromiseFulfilledResult<Record<string, unknown>>).value;
          expect(r).toMatchObject({ locked: true, pid, socket: sb.socket });
          ok++;
        } else if (e.kind === 'hello') {
          expect(s.status, `request ${i}`).toBe('fulfilled');
          expect((s as PromiseFulfilledResult<Record<string, unknown>>).value).toMatchObject({ version: 1, pid });
          ok++;
        } else {
          expect(s.status, `request ${i}`).toBe('rejected');
          const err = (s as PromiseRejectedResult).reason as SigilError;
          expect(err).toBeInstanceOf(SigilError);
          // Each error names its own request's argument: proof the id matching is right.
          if (e.kind === 'missing') {
            expect(err.code).toBe(ErrorCode.NOT_FOUND);
            expect(err.message).toContain(`github/${e.account} `);
          } else {
            expect(err.code).toBe(ErrorCode.BAD_REQUEST);
            expect(err.message).toContain(`"${e.service}"`);
          }
          errors++;
        }
      });
      expect(ok + errors).toBe(500);
      expect(ok).toBeGreaterThan(100);
      expect(errors).toBeGreaterThan(100);
      // and the connection is still good afterwards
      expect(await client.request('status')).toMatchObject({ pid });
    } finally {
      client.close();
    }
  });

  it('negotiates the version with hello', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      expect(await client.hello('client-test')).toMatchObject({ version: 1, pid, agent: expect.stringMatching(/^sigilforge /) });
      expect(await client.request('hello', { versions: [1] })).toMatchObject({ version: 1 });
      expect(await client.request('hello', { versions: [3, 1, 2] })).toMatchObject({ version: 1 });
      const none = await rejection(client.request('hello', { versions: [2, 3] }));
      expect(none.code).toBe(ErrorCode.UNSUPPORTED_VERSION);
      expect(none.message).toMatch(/2, 3/);
      expect((await rejection(client.request('hello', { versions: [] }))).code).toBe(ErrorCode.UNSUPPORTED_VERSION);
      // a failed negotiation does not spoil the connection
      expect(await client.request('status')).toMatchObject({ pid });
    } finally {
      client.close();
    }
  });

  it('answers a request with v: 2 with UNSUPPORTED_VERSION, carrying its id', async () => {
    const conn = await RawConn.open(sb.socket);
    try {
      const a = await conn.call(7, 'status'); // v: 1 through call()
      expect(a).toMatchObject({ id: 7, ok: true });
      await conn.send({ v: 2, id: 8, op: 'status', args: {} });
      await conn.send({ v: 0, id: 9, op: 'status', args: {} });
      await conn.send({ v: '1', id: 10, op: 'status', args: {} });
      await conn.send({ id: 11, op: 'status', args: {} });
      await conn.answersAtLeast(5);
      for (const id of [8, 9, 10, 11]) {
        expect(conn.answers.find((x) => x.id === id), `id ${id}`).toMatchObject({ ok: false, error: { code: ErrorCode.UNSUPPORTED_VERSION } });
      }
      expect((await conn.call(12, 'status')).ok).toBe(true);
      expect(conn.protocolError).toBeNull();
    } finally {
      conn.close();
    }
  });

  it('answers an unknown op with UNKNOWN_OP, including names inherited from Object.prototype', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      for (const op of ['frobnicate', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'STATUS', 'status ', 'x'.repeat(5000)]) {
        const err = await rejection(client.request(op));
        expect(err.code, op.slice(0, 20)).toBe(ErrorCode.UNKNOWN_OP);
        expect(err.message.length).toBeLessThan(200); // the op is echoed clipped
      }
      expect(await client.request('status')).toMatchObject({ pid });
    } finally {
      client.close();
    }
  });

  it('answers pipelined requests sent just before a bad length, then the error, then closes', async () => {
    const conn = await RawConn.open(sb.socket);
    try {
      // one write: two good requests and an oversized header right behind them
      await conn.write(Buffer.concat([encodeFrame({ v: 1, id: 1, op: 'status', args: {} }), encodeFrame({ v: 1, id: 2, op: 'nope', args: {} }), header(0x7fffffff)]));
      await conn.whenClosed();
      // the two answers in any order (they are pipelined), the connection error last
      expect(conn.answers.length).toBe(3);
      expect(conn.answers.find((a) => a.id === 1)).toMatchObject({ ok: true });
      expect(conn.answers.find((a) => a.id === 2)).toMatchObject({ ok: false, error: { code: ErrorCode.UNKNOWN_OP } });
      expect(conn.answers[2]).toMatchObject({ id: null, ok: false, error: { code: ErrorCode.FRAME_TOO_LARGE } });
    } finally {
      conn.close();
    }
  });

  it('answers everything a client sent before shutting down its side', async () => {
    const conn = await RawConn.open(sb.socket);
    try {
      const frames = Array.from({ length: 50 }, (_, i) => encodeFrame({ v: 1, id: i + 1, op: i % 2 ? 'status' : 'unknown_op', args: {} }));
      // an answer that takes a while (scrypt, file reads): it must not be dropped either
      frames.push(encodeFrame({ v: 1, id: 51, op: 'unlock', args: { passphrase: 'not the passphrase' } }));
      conn.socket.end(Buffer.concat(frames)); // write, then FIN at once
      await conn.whenClosed();
      expect(conn.answers.map((a) => a.id).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      expect(conn.answers.find((a) => a.id === 51)).toMatchObject({ ok: false, error: { code: ErrorCode.BAD_PASSPHRASE } });
    } finally {
      conn.close();
    }
  });

  it('says which socket has no agent and how to start one (SIGIL_AUTH_SOCK set, or the default path)', async () => {
    const missing = join(sb.home, 'nowhere', 'agent.sock');
    const viaEnv = await rejection(AgentClient.connect({ env: { ...sb.env, SIGIL_AUTH_SOCK: missing } }));
    expect(viaEnv.code).toBe(ErrorCode.NO_AGENT);
    expect(viaEnv.message).toContain(`SIGIL_AUTH_SOCK=${missing}`);
    expect(viaEnv.message).toContain('no such socket');
    expect(viaEnv.message).toContain('eval "$(sigil-agent)"');

    // no SIGIL_AUTH_SOCK: the default path under XDG_RUNTIME_DIR, named as such
    const other = new Sandbox();
    try {
      const env: Record<string, string | undefined> = { ...other.env };
      delete env.SIGIL_AUTH_SOCK;
      const byDefault = await rejection(requestOnce('status', {}, { env }));
      expect(byDefault.code).toBe(ErrorCode.NO_AGENT);
      expect(byDefault.message).toContain(other.socket);
      expect(byDefault.message).not.toContain('SIGIL_AUTH_SOCK=');
      expect(byDefault.message).toContain('eval "$(sigil-agent)"');

      // the same through the real binaries: message on stderr, the NO_AGENT exit code
      for (const env2 of [{ SIGIL_AUTH_SOCK: missing }, {}] as Array<Record<string, string>>) {
        const where = env2.SIGIL_AUTH_SOCK ?? other.socket;
        const st = await other.sigil(['status'], { env: env2 });
        expect(st.code).toBe(EXIT_CODES.NO_AGENT);
        expect(st.stderr).toContain(where);
        expect(st.stderr).toContain('sigil-agent');
        const tok = await other.run(BIN.token, ['github', 'work'], { env: env2 });
        expect(tok.code).toBe(EXIT_CODES.NO_AGENT);
        expect(tok.stdout).toBe('');
        expect(tok.stderr).toContain(where);
        expect(tok.stderr).toContain('sigil-agent');
      }
    } finally {
      other.cleanup();
    }
  });
});

describe('AgentClient against servers that misbehave', () => {
  let server: Server;
  let path: string;
  let sb: Sandbox;
  const sockets = new Set<Socket>();
  /** How the fake server answers: per request, given the decoded request. */
  let behaviour: (req: { id: number; op: string; args: Record<string, unknown> }, socket: Socket) => void;

  beforeEach(async () => {
    sb = new Sandbox();
    path = join(sb.home, 'fake.sock');
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const body of decoder.push(chunk)) behaviour(decodeBody(body) as never, socket);
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    sb.cleanup();
  });

  it('times out a request that is never answered, and only that one', async () => {
    behaviour = (req, socket) => {
      if (req.op === 'status') socket.write(encodeFrame({ id: req.id, ok: true, result: { fine: true } }));
      // anything else: silence
    };
    const client = await AgentClient.connect({ socketPath: path });
    try {
      const t0 = Date.now();
      const silent = client.request('get_token', {}, { timeoutMs: 300 });
      const answered = client.request('status', {}, { timeoutMs: 5000 });
      expect(await answered).toEqual({ fine: true });
      const err = await rejection(silent);
      const elapsed = Date.now() - t0;
      expect(err.code).toBe(ErrorCode.NO_AGENT);
      expect(err.message).toContain('did not answer "get_token" within 300 ms');
      expect(err.message).toContain(path);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(3000);
      // the connection is still usable
      expect(await client.request('status')).toEqual({ fine: true });
    } finally {
      client.close();
    }
  });

  it('drops an answer that arrives after its request timed out', async () => {
    behaviour = (req, socket) => {
      const delay = Number(req.args.delay_ms ?? 0);
      setTimeout(() => {
        if (!socket.destroyed) socket.write(encodeFrame({ id: req.id, ok: true, result: { id: req.id } }));
      }, delay);
    };
    const client = await AgentClient.connect({ socketPath: path });
    try {
      const late = rejection(client.request('slow', { delay_ms: 400 }, { timeoutMs: 100 }));
      expect((await late).code).toBe(ErrorCode.NO_AGENT);
      // The stale answer (id 1) arrives while this one (id 2) waits: it must not be taken for it.
      const r = await client.request<{ id: number }>('next', { delay_ms: 600 }, { timeoutMs: 3000 });
      expect(r.id).toBe(2);
    } finally {
      client.close();
    }
  });

  it('fails every pending request when the agent goes away', async () => {
    behaviour = (_req, socket) => socket.destroy();
    const client = await AgentClient.connect({ socketPath: path });
    const errs = await Promise.all([rejection(client.request('a')), rejection(client.request('b'))]);
    for (const e of errs) {
      expect(e.code).toBe(ErrorCode.NO_AGENT);
      expect(e.message).toContain(path);
    }
    expect((await rejection(client.request('c'))).code).toBe(ErrorCode.NO_AGENT);
  });

  it("drops a hostile agent's junk error details (field, retry_after_s) and keeps its valid ones, on the same connection", async () => {
    const junk: Record<string, unknown>[] = [
      { field: { toString: 'issuer' }, retry_after_s: '42' },
      { field: 'issuer\x1b]52;c;AAAA\x07', retry_after_s: -5 },
      { field: Buffer.from('issuer'), retry_after_s: 1e300 },
      { field: ['client_id'], retry_after_s: 0.5 },
      { field: 'x'.repeat(10_000), retry_after_s: { valueOf: 3 } },
    ];
    behaviour = (req, socket) => {
      const n = Number(req.args.n);
      const extra = n < junk.length ? junk[n] : { field: 'issuer', retry_after_s: 42 };
      socket.write(encodeFrame({ id: req.id, ok: false, error: { code: 'RATE_LIMITED', message: 'wait', ...extra } }));
    };
    const client = await AgentClient.connect({ socketPath: path });
    try {
      for (let n = 0; n < junk.length; n++) {
        const e = await rejection(client.request('unlock', { n }));
        expect(e, JSON.stringify(junk[n])).toMatchObject({ code: ErrorCode.RATE_LIMITED, message: 'wait', details: {} });
        expect(Object.keys(e.details)).toEqual([]);
      }
      const valid = await rejection(client.request('unlock', { n: junk.length }));
      expect(valid.details).toEqual({ field: 'issuer', retry_after_s: 42 });
    } finally {
      client.close();
    }
  });

  it('keeps answers that arrive in the same chunk as a bad length, then fails the rest', async () => {
    behaviour = (req, socket) => {
      if (req.op === 'first') socket.write(Buffer.concat([encodeFrame({ id: req.id, ok: true, result: { n: 1 } }), header(0)]));
    };
    const client = await AgentClient.connect({ socketPath: path });
    try {
      const other = rejection(client.request('other', {}, { timeoutMs: 5000 }));
      expect(await client.request('first')).toEqual({ n: 1 });
      expect((await other).code).toBe(ErrorCode.BAD_REQUEST);
    } finally {
      client.close();
    }
  });
});
