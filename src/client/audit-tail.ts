import type { OpArgs } from '../protocol/op-catalog.js';
import { AUDIT_MAX_LIMIT, type AuditEntry, type AuditPage } from '../protocol/results.js';

/** One audit_tail request, over whatever connection the caller holds. */
export type AuditTailCall = (op: 'audit_tail', args: OpArgs<'audit_tail'>) => Promise<AuditPage>;

/**
 * The newest `limit` audit entries, oldest first. The agent caps each answer in lines
 * (AUDIT_MAX_LIMIT) and in bytes (one frame), so this asks for older pages (`before`) until
 * it has `limit` entries or reaches the log's start. `cursor` is the newest page's, for
 * following; `start` the oldest's.
 */
export async function readAuditLines(call: AuditTailCall, limit: number): Promise<AuditPage> {
  const pages: AuditEntry[][] = [];
  let got = 0;
  let cursor: number | undefined;
  let before: number | undefined;
  for (;;) {
    const page = await call('audit_tail', { limit: Math.min(limit - got, AUDIT_MAX_LIMIT), ...(before === undefined ? {} : { before }) });
    cursor ??= page.cursor;
    pages.unshift(page.entries);
    got += page.entries.length;
    // Done: enough, the log's start (an agent without paging sends no `start`), or no progress.
    const done = got >= limit || !(page.start > 0) || (before !== undefined && page.start >= before);
    before = page.start;
    if (done) return { entries: pages.flat(), cursor, start: page.start ?? 0 };
  }
}
