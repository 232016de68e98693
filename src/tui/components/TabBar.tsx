import { Box, Text } from 'ink';

export type Tab = 'accounts' | 'audit' | 'secrets';

const TABS: [Tab, string][] = [
  ['accounts', '1 Accounts'],
  ['audit', '2 Audit log'],
  ['secrets', '3 Secrets'],
];

/** The top line: the product, the tabs (keys 1, 2 and 3), and where we are within a tab. */
export function TabBar({ current, crumb, locked }: { current: Tab | null; crumb?: string; locked: boolean }) {
  return (
    <Box>
      <Text bold color="magenta">
        {' Sigilforge '}
      </Text>
      {locked
        ? null
        : TABS.map(([tab, label]) => (
            <Text key={tab} inverse={tab === current} bold={tab === current}>
              {` ${label} `}
            </Text>
          ))}
      {crumb ? <Text color="gray">{`  › ${crumb}`}</Text> : null}
    </Box>
  );
}
