import { Box, Text } from 'ink';
import { expiresInOption } from '../../cli/expires-in.js';
import { TextField } from './TextField.js';

export interface ExpiresInFieldProps {
  value: string;
  onChange(value: string): void;
  focus: boolean;
  onCancel(): void;
  /** Seconds from now; undefined: the value does not expire. */
  onSubmit(seconds: number | undefined): void;
  /** The text is no lifetime: what is wrong with it. */
  onProblem(message: string): void;
  /** What the person should know first (the current value's expiry, when replacing one). */
  hint?: string;
}

/** "Expires in": a duration as `--expires-in` takes it (30d, 12h, 1h30m); empty or 0 for never. */
export function ExpiresInField({ value, onChange, focus, onCancel, onSubmit, onProblem, hint }: ExpiresInFieldProps) {
  const submit = (text: string) => {
    let seconds: number | undefined;
    try {
      seconds = text.trim() ? expiresInOption(text, 'expires in') : undefined;
    } catch (err) {
      return onProblem((err as Error).message);
    }
    onSubmit(seconds || undefined);
  };
  return (
    <Box flexDirection="column">
      <TextField label="Expires in: " value={value} onChange={onChange} focus={focus} placeholder="never (or e.g. 30d, 12h, 1h30m)" onCancel={onCancel} onSubmit={submit} />
      <Text color="gray">{hint ?? 'After that the agent stops handing it out. Empty: it does not expire.'}</Text>
    </Box>
  );
}
