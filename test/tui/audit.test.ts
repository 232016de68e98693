import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/sandbox.js';
import { KEY, mountApp, realDeps, type Mounted } from './helpers.js';

const LINES = 100_000;

/**
 * Synthetic history: line i is pid i, so the frame tells which lines it shows. Kept under the
 * agent's 10 MiB rotation size, or its first write would rotate it away.
 */
function writeBigLog(path: string): void {
  const ops = ['get_token', 'refresh_token', 'set_token', 'resolve'];
  const out: string[] = [];
  const t0 = Date.parse('2025-03-01T00:00:00Z');
  for (let i = 0; i < LINES; i++) {
    const op = ops[i % ops.length]!;
    const result = i % 7 === 0 ? 'LOCKED' : 'ok';
    out.push(JSON.stringify({ time: new Date(t0 + i * 1000).toISOString(), op, target: `s${i % 100}/a`, result, pid: i }));
  }
  const text = out.join('\n') + '\n';
  if (Buffer.byteLength(text) > 10 * 1024 * 1024 - 64 * 1024) throw new Error('the synthetic log would be rotated');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
}

/** The synthetic lines' pids (no client name: "  pid N"; the agent's own say "sigil pid N"). */
const pids = (frame: string) => [...frame.matchAll(/ {2}pid (\d+)/g)].map((m) => Number(m[1]));

describe('audit screen (real agent, 100k-line log)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    writeBigLog(sb.auditPath);
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(() => sb.cleanup());

  async function openAudit(): Promise<{ app: Mounted; calls: { op: string; args: Record<string, unknown> }[] }> {
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    await app.waitFor('UNLOCKED');
    await app.press('2');
    await app.waitFor(/ {2}pid \d/);
    return { app, calls: deps.calls };
  }

  it('shows the newest entries last, reading one screenful, and pages back a page at a time', async () => {
    const started = Date.now();
    const { app, calls } = await openAudit();
    try {
      expect(Date.now() - started).toBeLessThan(3000);
      let frame = app.lastFrame();
      expect(frame).toMatch(/TIME\s+OP\s+TARGET\s+RESULT\s+CLIENT/);
      // The agent's own lines name their caller's chain: sigil, then the program that ran it.
      expect(frame).toMatch(/unlock\s.*\bsigil ← \S+/);
      const first = pids(frame);
      expect(first.length).toBeGreaterThan(5);
      expect(first).toEqual([...first].sort((a, b) => a - b)); // newest last
      expect(first.at(-1)).toBe(LINES - 1);
      expect(frame).toContain('unlock'); // the agent's own lines come after the synthetic ones
      const tails = () => calls.filter((c) => c.op === 'audit_tail' && c.args.after === undefined).map((c) => c.args.limit as number);
      // Read only what is shown: one screenful (24 rows minus chrome), not 100k lines.
      expect(Math.max(...tails())).toBeLessThan(30);

      await app.press(KEY.pageUp);
      frame = await app.waitFor((f) => (pids(f).at(-1) ?? LINES) < LINES - 1);
      const paged = pids(frame);
      expect(paged.at(-1)).toBeLessThan(first[0]!);
      await app.press(KEY.pageUp, KEY.pageUp);
      await app.idle(100);
      // Three pages back: still only a few screenfuls asked for.
      expect(Math.max(...tails())).toBeLessThan(100);

      await app.press('k');
      const up1 = pids(app.lastFrame());
      await app.press('j');
      expect(pids(app.lastFrame())[0]).toBe(up1[0]! + 1);

      await app.press('G');
      frame = await app.waitFor((f) => pids(f).at(-1) === LINES - 1);
      await app.press('g');
      frame = await app.waitFor((f) => (pids(f)[0] ?? LINES) < paged[0]!);
    } finally {
      await app.unmount();
    }
  });

  it('filters by service, account, op and result', async () => {
    const { app } = await openAudit();
    try {
      await app.press('/');
      await app.waitFor('filter /');
      await app.type('s7/ resolve LOCKED');
      await app.press(KEY.enter);
      const frame = await app.waitFor(/filter: s7\/ resolve LOCKED/);
      await app.waitFor((f) => pids(f).length >= 3);
      const shown = pids(app.lastFrame());
      for (const pid of shown) {
        expect(pid % 100).toBe(7);
        expect(pid % 4).toBe(3); // resolve
        expect(pid % 7).toBe(0); // LOCKED
      }
      expect(frame).toContain('matching');
      // q typed in the filter field did not quit; Esc clears the filter.
      await app.press(KEY.esc);
      await app.waitFor((f) => !f.includes('filter: ') && pids(f).some((p) => p % 100 !== 7));
      await app.press('/');
      await app.type('q?');
      expect(app.quits).toBe(0);
      expect(app.lastFrame()).toContain('filter /q?');
    } finally {
      await app.unmount();
    }
  });

  it('follows new entries, and f pauses', async () => {
    const { app, calls } = await openAudit();
    try {
      expect(app.lastFrame()).toContain('following');
      const r = await app.run(() => sb.sigil(['secret', 'set', 'tui-follow', '--stdin'], { input: 'value\n' }));
      expect(r.code).toBe(0);
      const frame = await app.waitFor(/set_secret\s+secret:\/\/tui-follow\s+ok/);
      const rows = frame.split('\n').filter((l) => /^\s+\d{4}-\d\d-\d\d /.test(l));
      expect(rows.at(-1)).toMatch(/set_secret/); // newest last
      expect(calls.some((c) => c.op === 'audit_tail' && typeof c.args.after === 'number')).toBe(true);

      await app.press('f');
      await app.waitFor('paused (f follows)');
      const polls = calls.length;
      await app.run(() => sb.sigil(['secret', 'set', 'tui-paused', '--stdin'], { input: 'value\n' }));
      await app.idle(500);
      expect(app.lastFrame()).not.toContain('tui-paused');
      expect(calls.slice(polls).some((c) => c.op === 'audit_tail')).toBe(false);
      await app.press('G');
      await app.waitFor(/set_secret\s+secret:\/\/tui-paused/);
    } finally {
      await app.unmount();
    }
  });
});
