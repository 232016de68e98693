import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/protocol/msgpack.js';
import { startFakeAgent, type FakeAgent, type Step } from '../support/fake-agent.js';
import { ROOT, Sandbox, type ExecResult } from '../support/sandbox.js';
import { C_TOKEN, NATIVE_TOKEN, NODE_TOKEN, type TokenProgram } from '../support/token-programs.js';

/*
 * The C sigil-token reads the agent's answer as hostile: a fake agent (same uid, private
 * socket) answers its hello + get_token with truncated frames, huge declared lengths, deep
 * nesting, wrong types, non-map answers, bad frame lengths, ill-formed UTF-8 and mutations of
 * a good answer. For every one the C program must do what the Node shim does — the same exit
 * code, stdout and stderr — and never die of a signal. A second, larger batch runs a build
 * with AddressSanitizer and UBSan (aborting on the first finding) and wants no signal and an
 * exit code sigil-token can have. Every run is bounded by a kill; a killed run fails.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const COMPARED = 120;
const SANITIZED = 400;
/** Each run is bounded by its kill; the whole batch by this (a 2-core machine, other tests beside). */
const BATCH_TIMEOUT_MS = 300_000;
const KILL_AFTER_MS = 20_000;
const EXIT_CODES = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);

const header = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n >>> 0);
  return h;
};
const frame = (body: Uint8Array) => Buffer.concat([header(body.length), body]);
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const cat = (...parts: (Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));
const rawStr = (bytes: Uint8Array) => cat([0xd9, bytes.length], bytes); // str8 of any bytes, valid UTF-8 or not
const key = (k: string) => rawStr(Buffer.from(k));
/** A map from raw keys and values: duplicate keys, non-string keys, any bytes as values. */
const rawMap = (pairs: [Uint8Array, Uint8Array][]) => cat([0x80 | pairs.length], ...pairs.flat());

const HELLO_ANSWER = frame(encode({ id: 1, ok: true, result: { version: 1, agent: 'sigilforge' } }));
const good = (token: unknown = 'tok-123') => encode({ id: 2, ok: true, result: { access_token: token, token_type: 'Bearer', expires_at: 1.7e9 + 0.5 } });
const nested = (depth: number, inner = [0x01]) => cat(Array(depth).fill(0x91), inner);
const float64 = (n: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  return b;
};

/** Hand-made hostile answers, each as the bytes the agent writes after reading the request. */
const HOSTILE: [string, Buffer][] = [
  ['nothing, then close', Buffer.alloc(0)],
  ['a good answer (control)', cat(HELLO_ANSWER, frame(good()))],
  ['the answer before the hello’s, then close', frame(good('early'))],
  ['a zero-length frame', cat(HELLO_ANSWER, header(0))],
  ['a length over 1 MiB', cat(HELLO_ANSWER, header(1024 * 1024 + 1))],
  ['a 4 GiB length', cat(HELLO_ANSWER, header(0xffffffff), Buffer.alloc(64, 0x41))],
  ['exactly 1 MiB declared, 10 bytes sent', cat(HELLO_ANSWER, header(1024 * 1024), Buffer.alloc(10))],
  ['a header cut short', cat(HELLO_ANSWER, hex('0000'))],
  ['a body cut short', cat(HELLO_ANSWER, frame(good()).subarray(0, 30))],
  ['a bad length after the answer', cat(HELLO_ANSWER, frame(good('first')), header(0))],
  ['a bad length before the answer', cat(header(0), frame(good()))],
  ['str32 of 4 GiB declared', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), [0x02], key('ok'), [0xc3], key('result'), hex('81'), key('access_token'), hex('dbffffffff'), Buffer.from('abc'))))],
  ['array32 of 2^32-1 declared', cat(HELLO_ANSWER, frame(hex('ddffffffff01')))],
  ['map32 of 2^32-1 declared', cat(HELLO_ANSWER, frame(hex('dfffffffff')))],
  ['bin32 of 4 GiB declared', cat(HELLO_ANSWER, frame(hex('c6ffffffff00')))],
  ['arrays nested 64 deep', cat(HELLO_ANSWER, frame(nested(64)))],
  ['arrays nested 65 deep', cat(HELLO_ANSWER, frame(nested(65)))],
  ['arrays nested 100000 deep', cat(HELLO_ANSWER, frame(nested(100_000)))],
  ['maps nested 70 deep as the result', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), [0x02], key('ok'), [0xc3], key('result'), cat(...Array(70).fill(cat([0x81], key('k')))), [0xc0])))],
  ['an ext type', cat(HELLO_ANSWER, frame(hex('d40100')))],
  ['the never-used byte 0xc1', cat(HELLO_ANSWER, frame(hex('c1')))],
  ['uint64 beyond 2^53', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), hex('cf0020000000000000'), key('ok'), [0xc3], key('result'), [0xc0])))],
  ['int64 below -2^53', cat(HELLO_ANSWER, frame(hex('d3ffdfffffffffffff')))],
  ['trailing bytes', cat(HELLO_ANSWER, frame(cat(good(), [0x00])))],
  ['a non-string key', cat(HELLO_ANSWER, frame(cat(hex('81'), [0x01], [0x02])))],
  ['an integer answer', cat(frame(hex('05')), frame(hex('2a')))],
  ['a string answer', cat(HELLO_ANSWER, frame(encode('token')))],
  ['an array answer', cat(HELLO_ANSWER, frame(encode([2, true, { access_token: 'x' }])))],
  ['a bin answer', cat(HELLO_ANSWER, frame(hex('c403616263')))],
  ['nil', cat(HELLO_ANSWER, frame(hex('c0')))],
  ['id 2.0 as a float64', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), float64(2), key('ok'), [0xc3], key('result'), encode({ access_token: 'float-id' }))))],
  ['id 2.0 as a float32', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), hex('ca40000000'), key('ok'), [0xc3], key('result'), encode({ access_token: 'f32-id' }))))],
  ['id "2"', cat(HELLO_ANSWER, frame(encode({ id: '2', ok: true, result: { access_token: 'x' } })))],
  ['id 2 as uint64 and int8', cat(frame(cat(hex('83'), key('id'), hex('cf0000000000000002'), key('ok'), [0xc3], key('result'), encode({ access_token: 'u64' }))), frame(good()))],
  ['ok 1, not true', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: 1, result: { access_token: 'x' } })))],
  ['ok missing, no error', cat(HELLO_ANSWER, frame(encode({ id: 2, result: { access_token: 'x' } })))],
  ['result nil', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: true, result: null })))],
  ['result a string', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: true, result: 'tok' })))],
  ['access_token a number', cat(HELLO_ANSWER, frame(good(12345)))],
  ['access_token bytes', cat(HELLO_ANSWER, frame(good(Buffer.from('tok'))))],
  ['access_token nil', cat(HELLO_ANSWER, frame(good(null)))],
  ['access_token with control characters and a newline', cat(HELLO_ANSWER, frame(good('a\x1b[2Jb\nc\u0085d')))],
  ['access_token of ill-formed UTF-8', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), [0x02], key('ok'), [0xc3], key('result'), rawMap([[key('access_token'), rawStr(hex('61 c0af e080 ed a080 f4908080 f0 9f 98 62 ff c3'))]]))))],
  ['access_token of 70000 bytes', cat(HELLO_ANSWER, frame(good('t'.repeat(70_000))))],
  ['duplicate keys: the last one counts', cat(HELLO_ANSWER, frame(cat(hex('85'), key('id'), [0x02], key('ok'), [0xc2], key('error'), encode({ code: 'LOCKED', message: 'no' }), key('ok'), [0xc3], key('result'), encode({ access_token: 'last-wins' }))))],
  ['an error of ours', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'NOT_FOUND', message: 'no account x/y' } })))],
  ['an error with an unknown code', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'toString', message: 'x' } })))],
  ['an error with a numeric code', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 7, message: 'x' } })))],
  ['an error without a message', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'FORBIDDEN' } })))],
  ['an error whose message is a number', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'LOCKED', message: 5 } })))],
  ['an error that is a string', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: 'LOCKED' })))],
  ['an error message with escapes, C1 controls, newlines', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'PROVIDER_ERROR', message: 'a\x1b]0;title\x07\nb\r\u009bc\u2028d\x7f' } })))],
  ['an error message of ill-formed UTF-8', cat(HELLO_ANSWER, frame(cat(hex('83'), key('id'), [0x02], key('ok'), [0xc2], key('error'), rawMap([[key('code'), key('LOCKED')], [key('message'), rawStr(hex('6e 6f c2 e2 82 f8 80 80 80 80 ed bf bf c2 85 0a 78'))]]))))],
  ['NO_AGENT from the agent', cat(HELLO_ANSWER, frame(encode({ id: 2, ok: false, error: { code: 'NO_AGENT', message: 'odd' } })))],
  ['an error about the connection, before the answer', cat(frame(encode({ id: null, ok: false, error: { code: 'FRAME_TOO_LARGE', message: 'too big' } })), frame(good()))],
  ['an id-less success, then the answer', cat(frame(encode({ ok: true, result: {} })), frame(good('after-noise')))],
  ['the hello answered with an error, then the token', cat(frame(encode({ id: 1, ok: false, error: { code: 'UNSUPPORTED_VERSION', message: 'v?' } })), frame(good('hello-failed')))],
  ['an undecodable hello answer, then a good one', cat(frame(hex('c1')), frame(good()))],
  ['three frames', cat(HELLO_ANSWER, frame(good('three')), frame(good('extra')))],
];

/** Hostile answers made by fast-check: structured lies about types, then raw mutations of good bytes. */
function generated(count: number, seed: number): Buffer[] {
  const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('\x1b[31m', '\u0085', 'a\nb', ''));
  const code = fc.oneof(fc.constantFrom('LOCKED', 'NOT_FOUND', 'INTERNAL', 'RATE_LIMITED', 'FRAME_TOO_LARGE', 'NOPE', 'constructor'), fc.integer());
  const anything = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), text, fc.uint8Array({ maxLength: 8 }), fc.array(fc.integer(), { maxLength: 3 }));
  const message = fc.record(
    {
      id: fc.oneof(fc.constantFrom(1, 2, 2, 2, 3, null, '2', -1, 2.5), fc.integer()),
      ok: fc.oneof(fc.constantFrom(true, true, false), anything),
      result: fc.oneof(fc.record({ access_token: fc.oneof(text, anything), token_type: text }, { requiredKeys: [] }), anything),
      error: fc.oneof(fc.record({ code, message: fc.oneof(text, anything), retry_after_s: anything }, { requiredKeys: [] }), anything),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    message.map((m) => encode(m)),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
    // A good answer with bytes flipped, cut, or spliced in.
    fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'insert')).map(([at, byte, how]) => {
      const b = Buffer.from(good());
      const i = at % b.length;
      if (how === 'flip') b[i] = byte;
      return how === 'cut' ? b.subarray(0, i) : how === 'insert' ? cat(b.subarray(0, i), [byte], b.subarray(i)) : b;
    }),
  );
  const answer = fc.tuple(fc.array(body, { minLength: 0, maxLength: 3 }), fc.constantFrom('whole', 'whole', 'zero', 'huge', 'short')).map(([bodies, tail]) => {
    const frames = bodies.filter((b) => b.length > 0).map(frame);
    const extra = tail === 'zero' ? header(0) : tail === 'huge' ? header(0xfffffff0) : tail === 'short' ? header(500).subarray(0, 3) : Buffer.alloc(0);
    return cat(...frames, extra);
  });
  return fc.sample(answer, { numRuns: count, seed });
}

/** Each answer for `times` connections in a row: read the request, write the answer, close. */
const plans = (answers: Buffer[], times: number): Step[][] => answers.flatMap((a) => Array<Step[]>(times).fill([{ read: 2 }, { send: a }, { end: true }]));

const view = (r: ExecResult) => ({ code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });

describe.runIf(existsSync(NATIVE_TOKEN))(`the C sigil-token against hostile agents (FUZZ_SEED=${SEED})`, () => {
  let sb: Sandbox;
  let dir: string;
  let agent: FakeAgent | null = null;
  beforeAll(() => {
    sb = new Sandbox();
    dir = mkdtempSync(join(tmpdir(), 'sigil-hostile-'));
  });
  afterAll(async () => {
    await agent?.stop();
    sb.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(name: string, answers: Buffer[], times: number): Promise<string> {
    await agent?.stop();
    agent = await startFakeAgent(join(dir, `${name}.sock`), plans(answers, times));
    return agent.path;
  }
  const run = (prog: TokenProgram, sock: string) => prog.run(sb, ['github', 'work'], { env: { SIGIL_AUTH_SOCK: sock }, timeoutMs: KILL_AFTER_MS });

  it('does what the Node shim does, for every hostile answer, and never dies of a signal', async () => {
    const cases: [string, Buffer][] = [...HOSTILE, ...generated(COMPARED, SEED).map((b, i): [string, Buffer] => [`generated #${i}: ${b.subarray(0, 48).toString('hex')}`, b])];
    const sock = await serve('compared', cases.map(([, b]) => b), 2);
    for (const [what, _bytes] of cases) {
      // In this order, one connection each: the fake agent plays the answer twice.
      const c = await run(C_TOKEN, sock);
      const node = await run(NODE_TOKEN, sock);
      expect(c.signal, `${what}: the C program was killed`).toBeNull();
      expect(node.signal, `${what}: the Node shim was killed`).toBeNull();
      expect(view(c), what).toEqual(view(node));
    }
  }, BATCH_TIMEOUT_MS);

  it('an answer without a string access_token: exit 1, nothing on stdout (the Node shim printed "undefined" and exited 0)', async () => {
    const answers = [good(null), good(12345), encode({ id: 2, ok: true, result: null }), encode({ id: 2, ok: true })].map((b) => cat(HELLO_ANSWER, frame(b)));
    const sock = await serve('no-token', answers, 2);
    for (const [i] of answers.entries()) {
      for (const prog of [C_TOKEN, NODE_TOKEN]) {
        expect(await run(prog, sock), `${prog.name}, answer #${i}`).toMatchObject({
          code: 1,
          signal: null,
          stdout: '',
          stderr: 'sigil-token: the agent answered get_token without an access_token\n',
        });
      }
    }
  });

  it.runIf(spawnSync('cc', ['--version']).status === 0)('a build with AddressSanitizer and UBSan finds nothing in a larger batch', async () => {
    const sanitized = join(dir, 'sigil-token-sanitized');
    const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-native.mjs'), '--sanitized', sanitized], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr + build.stdout).toBe(0);
    // A finding aborts (SIGABRT): seen as a signal. Leaks do not matter to a process that exits.
    const prog: TokenProgram = {
      ...C_TOKEN,
      run: (s, args, opts = {}) =>
        s.exec(sanitized, args, { ...opts, env: { ...opts.env, ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=0', UBSAN_OPTIONS: 'halt_on_error=1:abort_on_error=1:print_stacktrace=1' } }),
    };
    const answers = [...HOSTILE.map(([, b]) => b), ...generated(SANITIZED, SEED + 1)];
    const sock = await serve('sanitized', answers, 1);
    for (const [i, bytes] of answers.entries()) {
      const r = await run(prog, sock);
      const what = `answer #${i} ${bytes.subarray(0, 48).toString('hex')}`;
      expect(r.signal, `${what}: ${r.stderr}`).toBeNull();
      expect(EXIT_CODES.has(r.code!), `${what}: exit ${r.code} ${r.stderr}`).toBe(true);
      expect(r.stderr.includes('Sanitizer'), `${what}: ${r.stderr}`).toBe(false);
      if (r.code !== 0) expect(r.stdout).toBe('');
    }
  }, BATCH_TIMEOUT_MS);
});
