import { Box, Text, useInput } from 'ink';
import { useListCursor } from '../hooks/use-list-cursor.js';

export interface SelectItem<V> {
  value: V;
  label: string;
  hint?: string;
  disabled?: boolean;
}

/** A vertical pick list: ↑/↓ or k/j, Enter picks, Esc goes back. */
export function SelectList<V>({
  items,
  onSelect,
  onCancel,
  focus,
  height,
  initial = 0,
}: {
  items: SelectItem<V>[];
  onSelect(item: SelectItem<V>): void;
  onCancel?(): void;
  focus: boolean;
  height: number;
  initial?: number;
}) {
  const cursor = useListCursor(items.length, height, initial);
  const labelWidth = Math.max(0, ...items.map((i) => i.label.length));
  useInput(
    (input, key) => {
      if (key.upArrow || input === 'k') cursor.move(-1);
      else if (key.downArrow || input === 'j') cursor.move(1);
      else if (key.pageUp) cursor.move(-height);
      else if (key.pageDown) cursor.move(height);
      else if (key.return && items[cursor.selected]) onSelect(items[cursor.selected]!);
      else if (key.escape) onCancel?.();
    },
    { isActive: focus },
  );
  return (
    <Box flexDirection="column">
      {items.slice(cursor.offset, cursor.offset + height).map((item, n) => {
        const isSel = cursor.offset + n === cursor.selected;
        return (
          <Text key={item.label} inverse={isSel} color={item.disabled ? 'gray' : undefined} wrap="truncate">
            {isSel ? '› ' : '  '}
            {item.hint ? item.label.padEnd(labelWidth) : item.label}
            {item.hint ? <Text color="gray">{`  ${item.hint}`}</Text> : null}
          </Text>
        );
      })}
    </Box>
  );
}
