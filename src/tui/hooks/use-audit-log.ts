import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { readAuditLines } from '../../client/audit-tail.js';
import { AUDIT_MAX_LIMIT, type AuditEntry } from '../../protocol/results.js';
import { auditMatches } from '../format.js';
import { useDeps } from './use-deps.js';
import { useInterval } from './use-interval.js';

export interface AuditView {
  /** The entries on screen, oldest first. */
  view: AuditEntry[];
  /** Entries matching the filter among those loaded. */
  matching: number;
  loaded: number;
  /** Matching entries below the view (0: the view shows the newest). */
  below: number;
  /** The whole log is loaded (or as much as the agent hands out). */
  exhausted: boolean;
  atLimit: boolean;
  follow: boolean;
  loading: boolean;
  error: string | null;
  up(n: number): void;
  down(n: number): void;
  top(): void;
  bottom(): void;
  toggleFollow(): void;
}

/**
 * The audit log, read from its end and only as far as the screen needs: the first request
 * asks for one screenful; scrolling or paging past the oldest loaded line asks for a page
 * more; a filter that matches few lines asks for more (doubling) until the screen is full or
 * the log ends. Follow mode asks for what was appended since the last answer's byte cursor.
 * A 100k-line log therefore costs what is shown, not what is stored.
 */
export function useAuditLog(rows: number, filter: string, active: boolean): AuditView {
  const { session, poll } = useDeps();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [exhausted, setExhausted] = useState(false);
  const [limit, setLimit] = useState(0);
  const [scroll, setScroll] = useState(0);
  const [follow, setFollow] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cursor = useRef<number | null>(null);
  // Reads run one at a time, in order, so the follow cursor and the tail never cross. A tail
  // read asked for while one runs is queued, never dropped: a dropped one would leave the
  // view waiting for lines that nobody reads.
  const queue = useRef<Promise<void>>(Promise.resolve());
  /** The largest tail limit queued or running; 0 when none. */
  const pendingTail = useRef(0);
  const followBusy = useRef(false);
  const state = useRef({ entries, limit, scroll, filter });
  state.current = { entries, limit, scroll, filter };

  const pageRows = Math.max(1, rows);
  const filtered = useMemo(() => (filter ? entries.filter((e) => auditMatches(e, filter)) : entries), [entries, filter]);
  const maxScroll = Math.max(0, filtered.length - pageRows);
  const below = Math.min(scroll, maxScroll);
  if (exhausted && scroll > maxScroll) setScroll(maxScroll); // nothing older: drop the wish
  const view = filtered.slice(Math.max(0, filtered.length - below - pageRows), filtered.length - below);

  /** Keeps the view still when `added` entries arrive below it (unless it is at the bottom). */
  const holdView = useCallback((added: AuditEntry[]) => {
    const f = state.current.filter;
    const n = f ? added.filter((e) => auditMatches(e, f)).length : added.length;
    if (n > 0) setScroll((s) => (s > 0 ? s + n : 0));
  }, []);

  const loadTail = useCallback(
    (newLimit: number) => {
      if (pendingTail.current >= newLimit) return;
      pendingTail.current = newLimit;
      setLoading(true);
      queue.current = queue.current.then(async () => {
        const lim = pendingTail.current;
        if (lim === 0) return; // an earlier run already read this much
        try {
          const page = await readAuditLines((op, args) => session.call(op, args), lim);
          const old = state.current.entries;
          const appended = old.length ? appendedSince(old[old.length - 1]!, page.entries) : [];
          cursor.current = page.cursor;
          setEntries(page.entries);
          setLimit(lim);
          setExhausted(page.entries.length < lim || lim >= AUDIT_MAX_LIMIT);
          holdView(appended);
          setError(null);
        } catch (err) {
          setError((err as Error).message);
        } finally {
          if (pendingTail.current === lim) {
            pendingTail.current = 0;
            setLoading(false);
          }
        }
      });
    },
    [session, holdView],
  );

  const followTick = useCallback(() => {
    // Periodic: skipping one while something else reads costs nothing.
    if (followBusy.current || pendingTail.current || cursor.current === null) return;
    followBusy.current = true;
    queue.current = queue.current.then(async () => {
      try {
        const after = cursor.current; // read when the queue gets here: a tail read meanwhile moved it
        if (after === null) return;
        const page = await session.call('audit_tail', { after, limit: AUDIT_MAX_LIMIT });
        cursor.current = page.cursor;
        if (page.entries.length > 0) {
          setEntries((old) => {
            const all = old.concat(page.entries);
            if (all.length <= AUDIT_MAX_LIMIT) return all;
            // Memory stays bounded in a long follow: the oldest lines can be asked for again.
            setExhausted(false);
            return all.slice(all.length - AUDIT_MAX_LIMIT);
          });
          holdView(page.entries);
        }
        setError(null);
      } catch (err) {
        setError((err as Error).message);
      } finally {
        followBusy.current = false;
      }
    });
  }, [session, holdView]);

  const loadOlder = useCallback(() => {
    const { limit: l, filter: f } = state.current;
    // Without a filter a page is a screenful; with one, double until the screen fills.
    const next = Math.min(AUDIT_MAX_LIMIT, f ? Math.max(l + pageRows, l * 2) : l + pageRows);
    if (next > l) void loadTail(next);
  }, [loadTail, pageRows]);

  // The screen (or the filtered view) is not full, or the view was scrolled past the oldest
  // loaded line, and older lines exist: read a page more.
  const needMore = !exhausted && !error && filtered.length < pageRows + scroll;
  useEffect(() => {
    if (!active || !needMore || loading) return;
    if (state.current.limit === 0) void loadTail(pageRows);
    else loadOlder();
  }, [active, needMore, loading, loadTail, loadOlder, pageRows]);

  useInterval(() => void followTick(), active && follow ? poll.auditMs : null);

  // Scrolling past the oldest loaded line is kept as a wish: needMore reads older lines,
  // and the view moves once they are there.
  const up = useCallback((n: number) => setScroll((s) => Math.min(s, maxScroll) + n), [maxScroll]);
  const down = useCallback((n: number) => setScroll((s) => Math.max(0, Math.min(s, maxScroll) - n)), [maxScroll]);
  const top = useCallback(() => {
    setScroll(maxScroll);
    if (!exhausted) loadOlder();
  }, [maxScroll, exhausted, loadOlder]);
  const bottom = useCallback(() => {
    setScroll(0);
    setFollow(true);
  }, []);
  const toggleFollow = useCallback(() => setFollow((f) => !f), []);

  return {
    view,
    matching: filtered.length,
    loaded: entries.length,
    below,
    exhausted,
    atLimit: limit >= AUDIT_MAX_LIMIT,
    follow,
    loading,
    error,
    up,
    down,
    top,
    bottom,
    toggleFollow,
  };
}

/** Entries of a fresh tail that came after `last` (the newest entry held before). */
function appendedSince(last: AuditEntry, fresh: AuditEntry[]): AuditEntry[] {
  for (let i = fresh.length - 1; i >= 0; i--) {
    const e = fresh[i]!;
    if (e.time === last.time && e.op === last.op && e.target === last.target && e.result === last.result && e.pid === last.pid) return fresh.slice(i + 1);
  }
  return [];
}
