import { formatDuration } from '../util/duration.js';
import type { AccountInfo, AuditEntry } from '../protocol/results.js';

/** Text shaping for the screens: pure functions, so components hold no rules of their own. */

export type Tone = 'ok' | 'warn' | 'bad' | 'dim' | 'plain';

/** Under this much validity the table says "expires in Nm" instead of "valid". */
const SHOW_EXPIRY_UNDER_S = 3600;

export function accountStatusLabel(a: AccountInfo, nowS: number): { text: string; tone: Tone } {
  if (a.status === 'needs_auth') return { text: 'needs auth', tone: 'bad' };
  const left = a.expires_at === null ? null : a.expires_at - nowS;
  if (a.kind === 'static') {
    if (left === null) return { text: 'static', tone: 'dim' };
    if (left <= 0) return { text: 'expired', tone: 'bad' };
  } else if (left !== null && left <= 0) {
    // An expired OAuth access token is normal: the next use refreshes it.
    return { text: 'refresh due', tone: 'warn' };
  }
  if (left !== null && left < SHOW_EXPIRY_UNDER_S) return { text: `expires in ${Math.max(1, Math.ceil(left / 60))}m`, tone: 'warn' };
  return { text: 'valid', tone: 'ok' };
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

export function auditTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(0, 19);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function auditWho(e: AuditEntry): string {
  const parts: string[] = [];
  if (e.client) parts.push(e.client);
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
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
