import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditTail } from '../../src/agent/audit-reader.js';
import { RawConn } from '../protocol/wire.js';
import { Sandbox } from '../support/sandbox.js';

/** Line i of a synthetic log: `pad` characters of target make it long. */
function logLine(i: number, pad = 0): string {
  return JSON.stringify({ time: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(), op: 'get_token', target: `s/a${i}${'x'.repeat(pad)}`, result: 'ok', pid: i });
}

function writeLog(path: string, lines: string[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, lines.map((l) => l + '\n').join(''), { mode: 0o600 });
}

describe('readAuditTail pages', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-audit-pages-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('backwards with `before` and forwards with `after`, each page within its byte cap, every line once', () => {
    const path = join(dir, 'audit.log');
    const lines = Array.from({ length: 300 }, (_, i) => logLine(i, i % 50));
    writeLog(path, [...lines.slice(0, 100), '', 'not json', ...lines.slice(100)]); // junk is skipped
    const maxBytes = 2000;
    const pids = (es: Record<string, unknown>[]) => es.map((e) => e.pid as number);

    const back: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = readAuditTail(path, { limit: 10_000, maxBytes, ...(before === undefined ? {} : { before }) });
      expect(page.entries.reduce((n, e) => n + JSON.stringify(e).length + 1, 0)).toBeLessThanOrEqual(maxBytes);
      back.unshift(pids(page.entries));
      if (page.start === 0) break;
      expect(page.start).toBeLessThan(before ?? Infinity);
      before = page.start;
    }
    expect(back.length).toBeGreaterThan(10);
    expect(back.flat()).toEqual(lines.map((_, i) => i));

    const fwd: number[] = [];
    let after = 0;
    for (let n = 0; n < 1000; n++) {
      const page = readAuditTail(path, { after, maxBytes });
      fwd.push(...pids(page.entries));
      if (page.cursor === after) break;
      after = page.cursor;
    }
    expect(fwd).toEqual(lines.map((_, i) => i));

    // A limit still counts entries: the newest 7.
    expect(pids(readAuditTail(path, { limit: 7 }).entries)).toEqual([293, 294, 295, 296, 297, 298, 299]);
  });
});

describe('audit_tail and sigil audit (a real agent)', () => {
  let sb: Sandbox;
  const LONG_LINES = 10_000;
  beforeAll(async () => {
    sb = new Sandbox();
    // Ordinary long lines (~600 bytes: a long target, a client, an exe): 10000 of them are
    // ~6 MiB, six times the frame cap; under the 10 MiB rotation size.
    writeLog(
      sb.auditPath,
      Array.from({ length: LONG_LINES }, (_, i) => logLine(i, 500)),
    );
    await sb.startAgent();
  });
  afterAll(() => sb.cleanup());

  it('answers BAD_REQUEST naming the argument for a non-integer, negative or huge number (was INTERNAL, a RangeError)', async () => {
    const conn = await RawConn.open(sb.socket);
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{ after: 0.5 }, '"after"'],
        [{ after: -100 }, '"after"'],
        [{ after: 2 ** 60 }, '"after"'],
        [{ before: -1 }, '"before"'],
        [{ limit: 0.5 }, '"limit"'],
        [{ limit: 0 }, '"limit"'],
        [{ limit: 1e9 }, '"limit"'],
        [{ limit: 'ten' }, '"limit"'],
        [{ after: 0, before: 10 }, '"before"'],
      ];
      let id = 1;
      for (const [args, name] of cases) {
        const a = await conn.call(id++, 'audit_tail', args);
        expect(a.ok, JSON.stringify(args)).toBe(false);
        expect(a.error!.code, JSON.stringify(args)).toBe('BAD_REQUEST');
        expect(a.error!.message, JSON.stringify(args)).toContain(name);
      }
    } finally {
      conn.close();
    }
  });

  it('sigil audit -n 10000 on long lines pages under the frame cap (was FRAME_TOO_LARGE)', async () => {
    const r = await sb.sigil(['audit', '-n', String(LONG_LINES)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, -1)).toHaveLength(LONG_LINES);

    // More than the log holds: all of it, oldest first; after the synthetic lines the agent's own (agent_start).
    const all = await sb.sigil(['audit', '-n', '20000']);
    expect(all.code).toBe(0);
    const out = all.stdout.split('\n').slice(0, -1);
    expect(out.length).toBeGreaterThan(LONG_LINES);
    expect(out.length).toBeLessThan(LONG_LINES + 5);
    expect(out.slice(0, LONG_LINES).map((l) => Number(/ pid=(\d+)$/.exec(l)?.[1]))).toEqual(Array.from({ length: LONG_LINES }, (_, i) => i));

    const json = await sb.sigil(['audit', '-n', '20000', '--json']);
    expect(json.code).toBe(0);
    const entries = (JSON.parse(json.stdout) as { pid: number; time: number; op: string }[]).slice(0, LONG_LINES);
    expect(entries.map((e) => e.pid)).toEqual(Array.from({ length: LONG_LINES }, (_, i) => i));
    // Times are Unix seconds on the wire and in --json, as every other time.
    expect(entries[1]!.time).toBe(Date.UTC(2025, 0, 1) / 1000 + 1);
  });
});
