import { Box, Text, type DOMElement } from 'ink';
import { useContext, useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import { SpillContext } from '../deps.js';
import { useDeps } from '../hooks/use-deps.js';
import { hyperlink, printableUrl } from '../terminal-links.js';

/**
 * A URL on one line, whole: ink would break a long one into lines of its own, which a mouse
 * copies as pieces with spaces between (a pasted sign-in URL then lacks its client_id). Here
 * ink lays it out wider than the screen and the terminal soft-wraps it, so selecting it gives
 * the URL back in one piece (tmux, xterm and the others join soft-wrapped rows). The rows the
 * wrap adds are reserved with the shell first (SpillContext); until they are, a blank line.
 */
export function UrlLine({ url, color = 'cyan', bold = false }: { url: string; color?: string; bold?: boolean }) {
  const { hyperlinks } = useDeps();
  const spill = useContext(SpillContext);
  const id = useId();
  const ref = useRef<DOMElement>(null);
  const [left, setLeft] = useState<number | null>(null);
  const shown = printableUrl(url);

  // Where the line starts decides how many rows it wraps into: known after ink's layout.
  useLayoutEffect(() => {
    const x = leftOf(ref.current);
    if (x !== left) setLeft(x);
  });
  const needed = spill && left !== null ? Math.max(0, Math.ceil((left + shown.length) / Math.max(1, spill.columns)) - 1) : 0;
  const reserve = spill?.reserve;
  const release = spill?.release;
  useLayoutEffect(() => reserve?.(id, needed), [reserve, id, needed]);
  useEffect(() => () => release?.(id), [release, id]);

  const ready = !spill || (left !== null && spill.granted(id) === needed);
  return (
    <Box ref={ref} width={ready ? shown.length : undefined} flexShrink={0}>
      <Text color={color} bold={bold}>
        {ready ? (hyperlinks ? hyperlink(shown) : shown) : ' '}
      </Text>
    </Box>
  );
}

/** The column a laid-out element starts at (yoga's positions are relative to the parent). */
function leftOf(node: DOMElement | null): number {
  let x = 0;
  for (let n: DOMElement | undefined = node ?? undefined; n; n = n.parentNode) x += n.yogaNode?.getComputedLeft() ?? 0;
  return x;
}
