import type { Key } from 'ink';
import { useCallback, useState } from 'react';

export interface ListCursor {
  selected: number;
  /** First row shown: the window scrolls only as far as needed to keep `selected` visible. */
  offset: number;
  move(delta: number): void;
  moveTo(index: number): void;
}

/** Selection in a list of `count` rows seen through a window of `height` rows. */
export function useListCursor(count: number, height: number, initial = 0): ListCursor {
  const h = Math.max(1, height);
  const [pos, setPos] = useState(() => ({ selected: initial, offset: Math.max(0, initial - h + 1) }));
  const fit = useCallback(
    (selected: number, offset: number) => {
      const s = count === 0 ? 0 : Math.min(Math.max(0, selected), count - 1);
      let o = Math.min(offset, s);
      if (s >= o + h) o = s - h + 1;
      o = Math.max(0, Math.min(o, Math.max(0, count - h)));
      return { selected: s, offset: o };
    },
    [count, h],
  );
  const move = useCallback((delta: number) => setPos((p) => fit(p.selected + delta, p.offset)), [fit]);
  const moveTo = useCallback((index: number) => setPos((p) => fit(index, p.offset)), [fit]);
  // The list may shrink (an account removed) or the window change (resize): clamp on read.
  const view = fit(pos.selected, pos.offset);
  return { selected: view.selected, offset: view.offset, move, moveTo };
}

/**
 * The moving keys every table shares: ↑/↓ or k/j, PgUp/PgDn by `page` rows, g/G (Home/End)
 * to the ends. True when the key was one of them.
 */
export function moveByKey(cursor: ListCursor, input: string, key: Key, page: number, count: number): boolean {
  if (key.upArrow || input === 'k') cursor.move(-1);
  else if (key.downArrow || input === 'j') cursor.move(1);
  else if (key.pageUp) cursor.move(-page);
  else if (key.pageDown) cursor.move(page);
  else if (input === 'g' || key.home) cursor.moveTo(0);
  else if (input === 'G' || key.end) cursor.moveTo(count - 1);
  else return false;
  return true;
}
