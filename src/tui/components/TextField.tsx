import { Box, Text, useInput } from 'ink';
import { useRef } from 'react';

export interface TextFieldProps {
  label: string;
  value: string;
  onChange(value: string): void;
  onSubmit(value: string): void;
  onCancel?(): void;
  /** Shows • for every character (passphrases). */
  mask?: boolean;
  focus: boolean;
  placeholder?: string;
}

/** One line of typed text. A paste arrives as one input event; a newline in it submits. */
export function TextField({ label, value, onChange, onSubmit, onCancel, mask = false, focus, placeholder }: TextFieldProps) {
  // Keys that arrive in one read ("pw" then Enter) are handled before React re-renders:
  // the latest text lives in a ref, not in the closure's `value`.
  const current = useRef(value);
  current.current = value;
  const change = (next: string) => {
    current.current = next;
    onChange(next);
  };
  useInput(
    (input, key) => {
      if (key.escape) {
        onCancel?.();
        return;
      }
      const value = current.current;
      if (key.return) {
        onSubmit(value);
        return;
      }
      if (key.backspace || key.delete) {
        change(value.slice(0, -1));
        return;
      }
      if (key.ctrl && input === 'u') {
        change('');
        return;
      }
      if (key.ctrl || key.meta || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.tab || key.pageUp || key.pageDown) return;
      if (!input) return;
      const nl = input.search(/[\r\n]/);
      const text = (nl === -1 ? input : input.slice(0, nl)).replace(/[\x00-\x1f\x7f]/g, '');
      const next = value + text;
      if (text) change(next);
      if (nl !== -1) onSubmit(next);
    },
    { isActive: focus },
  );
  const shown = mask ? '•'.repeat([...value].length) : value;
  return (
    <Box>
      <Text bold>{label}</Text>
      <Text>{shown}</Text>
      {focus ? <Text inverse> </Text> : null}
      {!value && placeholder ? <Text color="gray">{` ${placeholder}`}</Text> : null}
    </Box>
  );
}
