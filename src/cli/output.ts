import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { terminalText } from '../util/terminal-text.js';

/** What every command prints with: JSON for --json, aligned columns for people. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Cells hold the agent's and config.toml's names: never raw control characters on the terminal. */
export function printTable(headers: string[], rawRows: string[][]): void {
  const rows = rawRows.map((r) => r.map((c) => terminalText(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write([line(headers), ...rows.map(line)].join('\n') + '\n');
}

export function info(message: string): void {
  process.stderr.write(message + '\n');
}

/** Unix seconds as local "YYYY-MM-DD HH:MM", or "-". */
export function formatTime(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  const d = new Date(s * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A secret value as the agent answered it: a string (text) or bytes (not UTF-8 text, sent as bin). */
export type SecretValue = string | Uint8Array;

export function secretValue(v: unknown): SecretValue {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new SigilError(ErrorCode.INTERNAL, 'the agent answered without a value');
}

/**
 * Prints a secret value: text with a newline, as `pass show` and `op read` do; bytes that are
 * not text raw and unchanged — no newline added — so `sigil secret get k > key.der` gives
 * back the file that went in. Resolves once stdout has taken it all (the process may exit next).
 */
export function printValue(value: SecretValue): Promise<void> {
  const out = typeof value === 'string' ? value + '\n' : value;
  return new Promise((resolve, reject) => process.stdout.write(out, (err) => (err ? reject(err) : resolve())));
}

/** A value for --json: text as is; bytes as base64, marked `"encoding": "base64"`. */
export function jsonValue(value: SecretValue): { value: string; encoding?: 'base64' } {
  return typeof value === 'string' ? { value } : { value: Buffer.from(value).toString('base64'), encoding: 'base64' };
}
