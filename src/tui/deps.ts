import { createContext } from 'react';
import type { AgentSession } from './agent-session.js';

/**
 * Everything the TUI reaches outside itself, injected so tests need no global patches: the
 * agent session, the browser opener, the clock and the poll periods.
 */
export interface TuiDeps {
  session: AgentSession;
  /** Opens a URL in the person's browser; false when nothing could be started. */
  openUrl(url: string): Promise<boolean>;
  /** Whether a browser here could reach this machine's loopback (not over SSH, not a console). */
  canOpenBrowser(): boolean;
  /** Milliseconds since the epoch. */
  now(): number;
  poll: PollPeriods;
}

export interface PollPeriods {
  /** The status bar: the lock countdown moves every second. */
  statusMs: number;
  /** Account health (expiry) changes slowly. */
  accountsMs: number;
  /** Audit follow mode. */
  auditMs: number;
}

export const DEFAULT_POLL: PollPeriods = { statusMs: 1000, accountsMs: 5000, auditMs: 1000 };

export const DepsContext = createContext<TuiDeps | null>(null);

/** Which keys the shell (q, ?, l, 1, 2) may take: none while a screen reads typed text. */
export const KeyCaptureContext = createContext<(capturing: boolean) => void>(() => {});
