import { homedir } from 'node:os';
import { Box, Text } from 'ink';
import type { ConnectionState } from '../agent-session.js';
import type { AgentStatus } from '../../protocol/results.js';
import { lockCountdown, tildePath, truncate } from '../format.js';
import { secretsExpiryNote } from '../../util/secret-expiry-note.js';
import { syncNote } from '../../util/sync-note.js';

export interface StatusBarProps {
  status: AgentStatus | null;
  connection: ConnectionState;
  width: number;
}

/** The bottom line of every screen: lock state, time to auto-lock, this device and its last sync, agent pid and socket; secrets expired or expiring within a week. */
export function StatusBar({ status, connection, width }: StatusBarProps) {
  if (connection.state === 'disconnected' || !status) {
    const msg = connection.state === 'disconnected' ? `no agent — reconnecting… (${connection.message})` : 'connecting to the agent…';
    return (
      <Box width={width}>
        <Text color="red" wrap="truncate">
          {truncate(msg, width)}
        </Text>
      </Box>
    );
  }
  const state = status.locked ? ' LOCKED ' : ' UNLOCKED ';
  const sync = syncNote(status.sync, Math.floor(Date.now() / 1000));
  const rest = `${status.locked ? '' : ` ${lockCountdown(false, status.locks_in_s)} ·`}${sync ? ` ${sync} ·` : ''} agent pid ${status.pid} · ${status.socket === undefined ? 'forwarded over ssh' : tildePath(status.socket, homedir())}`;
  const note = secretsExpiryNote(status.secrets_expiring);
  const warning = note ? ` secrets: ${note} ` : '';
  const help = ' ? help ';
  return (
    <Box width={width}>
      <Text inverse bold color={status.locked ? 'red' : 'green'}>
        {state}
      </Text>
      <Box flexGrow={1}>
        <Text wrap="truncate">{truncate(rest, Math.max(0, width - state.length - warning.length - help.length))}</Text>
      </Box>
      {warning ? <Text color="yellow">{warning}</Text> : null}
      <Text color="gray">{help}</Text>
    </Box>
  );
}
