import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

/** Fallbacks for a stdout that is not a terminal (ink-testing-library's has no rows). */
const DEFAULT_ROWS = 24;
const DEFAULT_COLUMNS = 80;

/** The terminal's size, updated on 'resize' so the whole layout follows the window. */
export function useTerminalSize(): { rows: number; columns: number } {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => read(stdout));
  useEffect(() => {
    const onResize = () => setSize(read(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

function read(stdout: NodeJS.WriteStream): { rows: number; columns: number } {
  return { rows: stdout.rows || DEFAULT_ROWS, columns: stdout.columns || DEFAULT_COLUMNS };
}
