import { createContext } from 'react';
import type { BrowserSupport } from '../cli/open-browser.js';
import type { AgentSession } from './agent-session.js';

/**
 * Everything the TUI reaches outside itself, injected so tests need no global patches: the
 * agent session, the browser opener, the terminal's abilities, the clock and the poll periods.
 */
export interface TuiDeps {
  session: AgentSession;
  /** Opens a URL in the person's browser; false when nothing could be started. */
  openUrl(url: string): Promise<boolean>;
  /** Which flow to offer first and whether openUrl has a browser to start: the CLI's answer. */
  browser(): BrowserSupport;
  /** The terminal shows OSC 8 hyperlinks (else URLs are plain text). */
  hyperlinks: boolean;
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

/**
 * Rows the terminal adds to ink's layout by soft-wrapping a line wider than the screen (a URL
 * printed whole, so it can be copied): a line asks for them with reserve(), the shell keeps
 * that many blank rows at the top — they scroll away as the terminal wraps the line — and
 * granted() says when the layout has them, so no frame is taller than the terminal.
 */
export interface SpillRows {
  columns: number;
  reserve(id: string, rows: number): void;
  release(id: string): void;
  granted(id: string): number;
}

/** null outside the shell (a screen rendered alone): nothing to keep count of. */
export const SpillContext = createContext<SpillRows | null>(null);
