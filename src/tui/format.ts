import { formatDuration } from '../util/duration.js';
import type { AccountInfo, AuditEntry } from '../protocol/results.js';
import { auditChain } from '../util/program-chain.js';
import { terminalText } from '../util/terminal-text.js';

/** Text shaping for the screens: pure functions, so components hold no rules of their own. */

export type Tone = 'ok' | 'warn' | 'bad' | 'dim' | 'plain';

/** A static token or a secret this close to its end needs a person to replace it: shown in yellow. */
const WARN_STATIC_UNDER_S = 7 * 86400;

export function accountStatusLabel(a: AccountInfo, nowS: number): { text: string; tone: Tone } {
  if (a.status === 'needs_auth') return { text: 'needs auth', tone: 'bad' };
  if (a.status === 'sign_in_here') return { text: 'sign in on this device', tone: 'bad' };
  const left = a.expires_at === null ? null : a.expires_at - nowS;
  if (a.kind === 'static') {
    if (left === null) return { text: 'static', tone: 'dim' };
    if (left <= 0) return { text: 'expired', tone: 'bad' };
    if (left < WARN_STATIC_UNDER_S) return { text: `expires in ${roughDuration(left)}`, tone: 'warn' };
    return { text: 'valid', tone: 'ok' };
  }
  // OAuth access tokens are short-lived by design (an hour is typical) and renewed by the
  // agent: an expiring one is routine, not a warning.
  // "expiring" is the agent's own rule (5 minutes, or half a short token's lifetime).
  if (a.status === 'expiring') return { text: 'refresh due', tone: 'dim' };
  return { text: 'valid', tone: 'ok' };
}

/** A secret's expiry for a table cell: none, gone, within a week (yellow) or later. */
export function secretExpiryLabel(expiresAt: number | null, nowS: number): { text: string; tone: Tone } {
  if (expiresAt === null) return { text: 'never', tone: 'dim' };
  const left = expiresAt - nowS;
  if (left <= 0) return { text: 'expired', tone: 'bad' };
  return { text: `in ${roughDuration(left)}`, tone: left < WARN_STATIC_UNDER_S ? 'warn' : 'plain' };
}

/** What a secret shows before it is revealed: the same for every value, so it gives away no length. */
export const MASKED_VALUE = '••••••••';

/** Lines of a revealed value shown at most; the rest is counted. */
const VALUE_LINES = 3;

/**
 * A revealed secret value as lines to print: text with every control character escaped
 * (a value is anyone's bytes: an escape sequence in it must not act on the terminal), bytes
 * that are not text as "binary, N bytes" — never printed.
 */
export function secretValueLines(value: string | Uint8Array, width: number): string[] {
  if (typeof value !== 'string') return [`binary, ${value.length} byte${value.length === 1 ? '' : 's'}`];
  const lines = value.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, VALUE_LINES).map((l) => truncate(terminalText(l), width));
  const more = lines.length - VALUE_LINES;
  if (more > 0) shown.push(`… ${more} more line${more === 1 ? '' : 's'}`);
  return shown;
}

/** One unit, rounded up, for a table cell: "30m", "5h", "3d". */
export function roughDuration(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.ceil(seconds / 60))}m`;
  if (seconds < 48 * 3600) return `${Math.ceil(seconds / 3600)}h`;
  return `${Math.ceil(seconds / 86400)}d`;
}

/** A path under the home directory as ~/…: the status bar has little room. */
export function tildePath(path: string, home: string): string {
  if (home && home !== '/' && path.startsWith(home + '/')) return '~' + path.slice(home.length);
  return path;
}

export function ago(thenS: number | null, nowS: number): string {
  if (thenS === null) return '—';
  const d = Math.max(0, nowS - thenS);
  return d < 5 ? 'just now' : `${formatDuration(d)} ago`;
}

export function when(unixS: number | null): string {
  if (unixS === null) return '—';
  return new Date(unixS * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** Shorter tokens than this show no characters at all: four of eight would be half of it. */
const MIN_LEN_FOR_TAIL = 12;

/** A token as "••••" plus its last four characters: enough to tell two apart, not to use one. */
export function maskToken(token: string): string {
  return token.length >= MIN_LEN_FOR_TAIL ? `••••${token.slice(-4)}` : '••••';
}

/** A device user code spaced out for reading across a room: "WDJB-MJHT" → "W D J B - M J H T". */
export function spacedCode(code: string): string {
  return [...code].join(' ');
}

export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : text.slice(0, width - 1) + '…';
}

/** An audit entry's time (Unix seconds) as local "YYYY-MM-DD HH:MM:SS". */
export function auditTime(unixS: number | undefined): string {
  if (typeof unixS !== 'number') return '';
  const d = new Date(unixS * 1000);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Who asked: the chain of programs the agent saw (`sigil-token ← deploy.sh ← bash`), else the name it gave, and the pid. */
export function auditWho(e: AuditEntry): string {
  const parts: string[] = [];
  const chain = auditChain(e);
  if (chain) parts.push(chain);
  else if (e.client) parts.push(e.client);
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  if (e.forwarded !== undefined) parts.push(`from ${e.forwarded}`);
  return parts.join(' ');
}

/**
 * The filter of the audit screen: every word must appear (case-insensitively) in the entry's
 * service, account, op or result. The target "service/account" covers the first two.
 */
export function auditMatches(e: AuditEntry, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = `${e.target ?? ''} ${e.op ?? ''} ${e.result ?? ''}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

export function lockCountdown(locked: boolean, locksInS: number | null): string {
  if (locked) return 'locked';
  if (locksInS === null) return 'no auto-lock';
  return `locks in ${formatDuration(locksInS)}`;
}
