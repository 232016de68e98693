import { Box, Text } from 'ink';
import { spacedCode } from '../format.js';
import { UrlLine } from './UrlLine.js';

/** The device flow's user code, large enough to type from across the room, with where to type it. */
export function DeviceCodeBox({ code, uri, complete }: { code: string; uri: string; complete?: string | undefined }) {
  return (
    <Box flexDirection="column">
      <Text>On any device, open this page and enter this code:</Text>
      <UrlLine url={uri} bold />
      <Box borderStyle="double" borderColor="cyan" paddingX={3} paddingY={1} alignSelf="flex-start" marginY={1}>
        <Text bold color="whiteBright">
          {spacedCode(code)}
        </Text>
      </Box>
      {complete ? (
        <>
          <Text color="gray">or open this page, which has the code in it:</Text>
          <UrlLine url={complete} color="gray" />
        </>
      ) : null}
    </Box>
  );
}
