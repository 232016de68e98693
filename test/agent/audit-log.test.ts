import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/agent/audit-log.js';
import { readAuditTail } from '../../src/agent/audit-reader.js';

describe('audit log', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-audit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one JSON line per event with a fixed set of fields, 0600', async () => {
    const path = join(dir, 'state/audit.log');
    const log = new AuditLog(path, { clock: { now: () => Date.parse('2026-01-02T03:04:05Z') } });
    const caller = {
      peer: { pid: 42, uid: 1000, gid: 1000, exe: '/usr/bin/node' },
      chain: [
        { pid: 42, uid: 1000, exe: '/usr/bin/node', script: '/opt/sigil/dist/bin/sigil-token.cjs', program: '/opt/sigil/dist/bin/sigil-token.cjs', sigil: 'sigil-token' as const },
        { pid: 41, uid: 1000, exe: '/usr/bin/dash', program: '/usr/bin/dash', code: 'command line' as const, relay: true as const },
        { pid: 40, uid: 1000, exe: '/usr/bin/git', program: '/usr/bin/git' },
        { pid: 39, uid: 1000, exe: '/usr/bin/bash', program: '/usr/bin/bash', login: true as const },
      ],
    };
    const event = { op: 'get_token', target: 'github/work', result: 'ok', caller, client: 'sigil-token' };
    // Extra members (a value, by mistake) are never written.
    log.record({ ...event, value: 'hunter2' } as typeof event);
    await log.close();
    const text = readFileSync(path, 'utf8');
    // The chain: Sigilforge's client by name, then the programs (relays such as sh -c left out).
    expect(text).toBe(
      '{"time":"2026-01-02T03:04:05.000Z","op":"get_token","target":"github/work","result":"ok","client":"sigil-token","pid":42,"uid":1000,"exe":"/usr/bin/node","chain":["sigil-token","/usr/bin/git","/usr/bin/bash"]}\n',
    );
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('writes each line whole when a connection alternates targets and results (the line cache)', async () => {
    const path = join(dir, 'audit.log');
    let t = Date.parse('2026-01-02T03:04:05Z');
    const log = new AuditLog(path, { clock: { now: () => t } });
    const caller = { peer: { pid: 7, uid: 1000, gid: 1000 }, chain: [] };
    const events = [
      { op: 'get_token', target: 'a/x', result: 'ok' },
      { op: 'get_token', target: 'a/x', result: 'ok' },
      { op: 'get_token', target: 'b/y', result: 'ok' },
      { op: 'get_token', target: 'a/x', result: 'LOCKED' },
      { op: 'resolve', target: 'a/x', result: 'ok' },
      { op: 'lock', result: 'ok' },
      { op: 'get_token', target: 'a/x', result: 'ok' },
    ];
    for (const e of events) {
      log.record({ ...e, caller, client: 'sigil-token' });
      t += 1;
    }
    log.record({ op: 'get_token', target: 'a/x', result: 'ok', caller, client: 'sigil' }); // another client name
    await log.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.op, l.target, l.result, l.client])).toEqual([
      ...events.map((e) => [e.op, e.target, e.result, 'sigil-token']),
      ['get_token', 'a/x', 'ok', 'sigil'],
    ]);
    expect(lines.map((l) => l.time).slice(0, 3)).toEqual(['2026-01-02T03:04:05.000Z', '2026-01-02T03:04:05.001Z', '2026-01-02T03:04:05.002Z']);
  });

  it('keeps a line longer than a batch whole', async () => {
    const path = join(dir, 'audit.log');
    const log = new AuditLog(path);
    const target = 'svc/' + 'a'.repeat(100_000);
    log.record({ op: 'get_token', target: 'small/one', result: 'ok' });
    log.record({ op: 'get_token', target, result: 'ok' });
    log.record({ op: 'get_token', target: 'small/two', result: 'ok' });
    await log.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.target)).toEqual(['small/one', target, 'small/two']);
  });

  it('buffers lines and writes them on flush', async () => {
    const path = join(dir, 'audit.log');
    const log = new AuditLog(path);
    log.record({ op: 'lock', result: 'ok' });
    expect(existsSync(path)).toBe(false);
    await log.flush();
    expect(readFileSync(path, 'utf8')).toContain('"op":"lock"');
    await log.close();
  });

  it('rotates by size, keeping a bounded number of files', async () => {
    const path = join(dir, 'audit.log');
    const log = new AuditLog(path, { maxBytes: 1000, keep: 2 });
    for (let i = 0; i < 100; i++) {
      log.record({ op: 'get_token', target: `svc/acct${i}`, result: 'ok' });
      await log.flush();
    }
    await log.close();
    expect(statSync(path).size).toBeLessThan(1000);
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
  });

  it('reads the tail of a 100k-line log without reading it all', async () => {
    const path = join(dir, 'audit.log');
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(JSON.stringify({ time: 't', op: 'get_token', target: `s/a${i}`, result: 'ok' }));
    writeFileSync(path, lines.join('\n') + '\n');
    const page = readAuditTail(path, { limit: 5 });
    expect(page.entries.map((e) => e.target)).toEqual(['s/a99995', 's/a99996', 's/a99997', 's/a99998', 's/a99999']);
    expect(page.cursor).toBe(statSync(path).size);
    expect(readAuditTail(path, { after: page.cursor }).entries).toEqual([]);
    // More lines than one 64 KiB chunk holds.
    expect(readAuditTail(path, { limit: 3000 }).entries[0]!.target).toBe('s/a97000');
  });

  it('follows from a cursor, across a torn last line and a rotation', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, '{"op":"a"}\n{"op":"b"}\n{"op":"c"');
    const first = readAuditTail(path, { after: 0 });
    expect(first.entries.map((e) => e.op)).toEqual(['a', 'b']);
    writeFileSync(path, '{"op":"a"}\n{"op":"b"}\n{"op":"c"}\n{"op":"d"}\n');
    const second = readAuditTail(path, { after: first.cursor });
    expect(second.entries.map((e) => e.op)).toEqual(['c', 'd']);
    writeFileSync(path, '{"op":"e"}\n'); // rotated: shorter than the cursor
    expect(readAuditTail(path, { after: second.cursor }).entries.map((e) => e.op)).toEqual(['e']);
  });

  it('answers an empty page for a missing log', async () => {
    expect(readAuditTail(join(dir, 'none.log'))).toEqual({ entries: [], cursor: 0, start: 0 });
  });
});
