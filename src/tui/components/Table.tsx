import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { terminalText } from '../../util/terminal-text.js';
import { truncate, type Tone } from '../format.js';
import { toneColor } from './tone.js';

export interface Column<T> {
  title: string;
  cell(row: T): string;
  tone?(row: T): Tone;
  /** Widest the column may grow; the last column takes what is left. */
  max?: number;
}

export interface TableProps<T> {
  columns: Column<T>[];
  rows: T[];
  /** Index into rows of the highlighted row, or -1. */
  selected: number;
  /** First row shown, and how many fit. */
  offset: number;
  height: number;
  width: number;
  rowKey(row: T, index: number): string;
  empty?: ReactNode;
}

const GAP = 2;
const MARK = '› ';

/**
 * A plain Box/Text table (ink-table cannot load under ink 6, and cannot highlight a row).
 * Only the rows in the window are measured and drawn: 10 or 10,000 rows cost the same.
 */
export function Table<T>({ columns, rows, selected, offset, height, width, rowKey, empty }: TableProps<T>) {
  const shown = rows.slice(offset, offset + Math.max(0, height - 1));
  // Cells show the agent's data (audit targets, client names): never raw control characters.
  const cells = shown.map((r) => columns.map((c) => terminalText(c.cell(r))));
  const widths = columns.map((c, i) => Math.min(c.max ?? Infinity, Math.max(c.title.length, ...cells.map((row) => row[i]!.length))));
  const used = widths.slice(0, -1).reduce((a, b) => a + b + GAP, MARK.length);
  widths[widths.length - 1] = Math.max(1, Math.min(widths[widths.length - 1]!, width - used - 1));
  const pad = (text: string, i: number) => {
    const w = widths[i]!;
    const t = truncate(text, w);
    return i === columns.length - 1 ? t : t.padEnd(w + GAP);
  };
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate">
        {' '.repeat(MARK.length)}
        {columns.map((c, i) => pad(c.title, i)).join('')}
      </Text>
      {shown.length === 0 && empty ? empty : null}
      {shown.map((row, n) => {
        const isSel = offset + n === selected;
        return (
          <Text key={rowKey(row, offset + n)} wrap="truncate" inverse={isSel}>
            {isSel ? MARK : ' '.repeat(MARK.length)}
            {columns.map((c, i) => {
              const tone = c.tone?.(row);
              // Dim text under the selection's inverse turns into a grey block that hides the
              // highlight: the selected row shows it plain.
              const color = tone && !(isSel && tone === 'dim') ? toneColor(tone) : undefined;
              return (
                <Text key={c.title} color={color}>
                  {pad(cells[n]![i]!, i)}
                </Text>
              );
            })}
          </Text>
        );
      })}
    </Box>
  );
}
