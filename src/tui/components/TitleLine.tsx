import { Text } from 'ink';

/** A screen's first line: its name in bold, then what it holds and its keys in grey (cut to the width, never wrapped). */
export function TitleLine({ title, hint }: { title: string; hint: string }) {
  return (
    <Text wrap="truncate">
      <Text bold>{title}</Text>
      <Text color="gray">{hint}</Text>
    </Text>
  );
}
