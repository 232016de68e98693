import { Text } from 'ink';
import { terminalText } from '../../util/terminal-text.js';
import { truncate } from '../format.js';
import type { Notice } from '../hooks/use-notice.js';
import { toneColor } from './tone.js';

/** The outcome of the last action, one line above the status bar. */
export function NoticeLine({ notice, width }: { notice: Notice | null; width: number }) {
  return (
    <Text color={notice ? toneColor(notice.tone) : undefined} wrap="truncate">
      {notice ? truncate(terminalText(notice.text), width) : ' '}
    </Text>
  );
}
