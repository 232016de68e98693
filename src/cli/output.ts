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
