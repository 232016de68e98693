import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConn } from '../protocol/wire.js';
import { Sandbox } from '../support/sandbox.js';
import { mountApp, realDeps } from '../tui/helpers.js';

/**
 * One same-uid request used to forge audit lines on screen and retitle the terminal: a
 * rejected request's target and the hello client name were printed raw by `sigil audit` and
 * the TUI. Now the agent refuses unprintable client names and every client escapes what it
 * prints.
 */
const FORGED = '\x1b]0;pwned\x07\n{fake audit line}';
const SHOWN = '\\x1b]0;pwned\\x07\\x0a{fake audit line}';
/** Raw control characters a terminal would act on (ink's own colour codes aside). */
const RAW_OSC = /\x1b\]|\x07|\x9b/;

describe('audited names with control characters', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    // A line an older agent wrote, when it kept any client name: shown escaped too.
    mkdirSync(dirname(sb.auditPath), { recursive: true, mode: 0o700 });
    writeFileSync(sb.auditPath, JSON.stringify({ time: '2025-01-01T00:00:00.000Z', op: 'get_token', target: 'github/work', result: 'ok', client: 'old\x1b[2J\x1b]0;x\x07', pid: 7 }) + '\n', { mode: 0o600 });
    await sb.startAgent();
    await sb.initAndUnlock();
    const conn = await RawConn.open(sb.socket);
    try {
      const hello = await conn.call(1, 'hello', { client: 'evil\x1b[31mred', versions: [1] });
      expect(hello.error).toMatchObject({ code: 'BAD_REQUEST', message: 'argument "client" must be 1 to 64 printable ASCII characters' });
      expect((await conn.call(2, 'hello', { client: 'x'.repeat(65), versions: [1] })).error?.code).toBe('BAD_REQUEST');
      expect((await conn.call(3, 'hello', { client: 'my-script 1.0', versions: [1] })).ok).toBe(true);
      expect((await conn.call(4, 'get_secret', { name: FORGED })).error?.code).toBe('BAD_REQUEST');
    } finally {
      conn.close();
    }
  });
  afterAll(() => sb.cleanup());

  it('sigil audit prints them as visible escapes: no raw ESC, no forged line', async () => {
    const r = await sb.sigil(['audit', '-n', '100']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const lines = r.stdout.split('\n').slice(0, -1);
    // Every line is an entry of its own (starts with its time): the newline did not forge one.
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(r.stdout).toContain(`get_secret secret://${SHOWN} BAD_REQUEST my-script 1.0 pid=`);
    expect(r.stdout).toContain('old\\x1b[2J\\x1b]0;x\\x07');
    // --json stays JSON, which escapes by itself.
    const json = await sb.sigil(['audit', '-n', '100', '--json']);
    expect((JSON.parse(json.stdout) as { target?: string }[]).some((e) => e.target === `secret://${FORGED}`)).toBe(true);
  });

  it('the TUI audit screen shows them escaped too', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await app.waitFor('UNLOCKED');
      await app.press('2');
      const frame = await app.waitFor('get_secret');
      expect(frame).not.toMatch(RAW_OSC);
      expect(frame).toContain('\\x1b]0;pwned');
      expect(frame).toContain('old\\x1b[2J');
      expect(frame).not.toMatch(/^\{fake/m);
    } finally {
      await app.unmount();
    }
  });
});
