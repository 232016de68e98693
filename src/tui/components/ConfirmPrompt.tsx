import { Text, useInput } from 'ink';

/** A y/n question on one line; anything but y answers no. */
export function ConfirmPrompt({ question, onAnswer, focus }: { question: string; onAnswer(yes: boolean): void; focus: boolean }) {
  useInput(
    (input, key) => {
      if (input === 'y' || input === 'Y') onAnswer(true);
      else if (input === 'n' || input === 'N' || key.escape || key.return) onAnswer(false);
    },
    { isActive: focus },
  );
  return (
    <Text color="yellow" bold>
      {question} <Text inverse>{' y/n '}</Text>
    </Text>
  );
}
