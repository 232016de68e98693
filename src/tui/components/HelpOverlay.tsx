import { Box, Text } from 'ink';
import { KEYMAP, type KeySection } from '../keymap.js';

const GAP = 2;

/**
 * Every key, by screen, in as many columns as the height needs (sections are stacked into
 * a column until it is full). Esc or ? closes it.
 */
export function HelpOverlay({ height, width }: { height: number; width: number }) {
  const all = pack(KEYMAP, Math.max(1, height - 2));
  // Only whole columns that fit: a column pushed past the edge would wrap into garbage.
  const columns: KeySection[][] = [];
  let used = 0;
  for (const col of all) {
    const w = columnWidth(col) + (columns.length ? GAP : 0);
    if (columns.length && used + w > width - 2) break;
    columns.push(col);
    used += w;
  }
  const fits = columns.length === all.length;
  return (
    <Box flexDirection="column" height={height} width={width} paddingX={1} overflowY="hidden">
      <Text bold inverse color="cyan">
        {' Keys — Esc or ? closes this '}
      </Text>
      <Box flexDirection="row" columnGap={GAP} marginTop={1}>
        {columns.map((col) => {
          const keyWidth = Math.max(...col.flatMap((s) => s.keys.map(([k]) => k.length)));
          return (
            <Box key={col[0]!.title} flexDirection="column" flexShrink={0}>
              {col.map((s) => (
                <Box key={s.title} flexDirection="column">
                  <Text bold underline>
                    {s.title}
                  </Text>
                  {s.keys.map(([k, what]) => (
                    <Text key={k}>
                      <Text color="yellow">{k.padEnd(keyWidth + 2)}</Text>
                      {what}
                    </Text>
                  ))}
                </Box>
              ))}
            </Box>
          );
        })}
      </Box>
      {fits ? null : <Text color="gray">(a larger terminal shows every key)</Text>}
    </Box>
  );
}

function pack(sections: KeySection[], rows: number): KeySection[][] {
  const cols: KeySection[][] = [[]];
  let used = 0;
  for (const s of sections) {
    const h = 1 + s.keys.length;
    if (used > 0 && used + h > rows) {
      cols.push([]);
      used = 0;
    }
    cols[cols.length - 1]!.push(s);
    used += h;
  }
  return cols;
}

function columnWidth(col: KeySection[]): number {
  const keyWidth = Math.max(...col.flatMap((s) => s.keys.map(([k]) => k.length)));
  return Math.max(...col.flatMap((s) => [s.title.length, ...s.keys.map(([, w]) => keyWidth + 2 + w.length)]));
}
