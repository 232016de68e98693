import { Box, Text } from 'ink';
import type { ConfirmQuestion } from '../hooks/use-confirm-requests.js';
import { confirmProgram } from '../../util/program-chain.js';
import { terminalText } from '../../util/terminal-text.js';
import { truncate } from '../format.js';

/** What a client is asking for, in the person's words. */
const WANTS: Record<string, string> = {
  get_token: 'a token of',
  resolve: 'the value of',
  get_secret: 'the secret',
};

/** The agent's question (`confirm = true`), over whatever screen is open: y allows, n denies. */
export function ConfirmUseBox({ question, nowMs, width }: { question: ConfirmQuestion; nowMs: number; width: number }) {
  const left = Math.max(0, Math.ceil(question.timeout_s - (nowMs - question.receivedAt) / 1000));
  const who = [question.client ?? 'a client', question.pid !== null ? `pid ${question.pid}` : null].filter(Boolean).join(', ');
  const inner = Math.max(10, width - 4);
  const program = confirmProgram(question);
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1} width={Math.min(width, 100)}>
      <Text bold color="yellow">
        Allow this use? (confirm = true)
      </Text>
      <Text wrap="truncate">{truncate(terminalText(`${who} wants ${WANTS[question.op] ?? 'to use'} ${question.target}`), inner)}</Text>
      {program ? <Text color="gray" wrap="truncate">{truncate(terminalText(`program: ${program}`), inner)}</Text> : null}
      {question.forwarded !== undefined ? (
        <Text color="red" wrap="truncate">
          {truncate(terminalText(`from another machine: ${question.forwarded} (forwarded over ssh)`), inner)}
        </Text>
      ) : null}
      <Text>
        <Text inverse> y </Text> allow once · <Text inverse> n </Text> deny · <Text color="gray">{left} s left</Text>
      </Text>
    </Box>
  );
}
