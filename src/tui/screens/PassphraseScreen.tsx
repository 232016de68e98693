import { Spinner } from '@inkjs/ui';
import { Box, Text, useInput } from 'ink';
import { useState } from 'react';
import { ErrorCode } from '../../protocol/codes.js';
import { rateLimitedError } from '../../protocol/errors.js';
import { TextField } from '../components/TextField.js';
import { useDeps } from '../hooks/use-deps.js';
import { useInterval } from '../hooks/use-interval.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';
import { useUnlock, type UnlockError } from '../hooks/use-unlock.js';

export interface PassphraseScreenProps {
  active: boolean;
  /**
   * Type at once (the TUI was started on a locked agent), or first press Enter (the agent
   * locked under a running TUI: keys meant for something else must not land in the field).
   */
  startEditing: boolean;
  /** Unlock at login is on (`sigil unlock --remember`): k asks the agent to use the keyring. */
  keyringUnlock: boolean;
  onUnlocked(): void;
}

/** The first screen while the agent is locked: a masked passphrase prompt. */
export function PassphraseScreen({ active, startEditing, keyringUnlock, onUnlocked }: PassphraseScreenProps) {
  // With unlock at login on, the person more likely wants k than to type: wait for Enter.
  const [editing, setEditing] = useState(startEditing && !keyringUnlock);
  const [value, setValue] = useState('');
  const { busy, error, unlock } = useUnlock(onUnlocked);
  useKeyCapture(active && editing);
  useInput(
    (input, key) => {
      if (key.return) setEditing(true);
      else if (input === 'k' && keyringUnlock && !busy) void unlock();
    },
    { isActive: active && !editing },
  );

  const submit = (v: string) => {
    if (!v || busy) return;
    setValue('');
    void unlock(v);
  };

  return (
    <Box flexDirection="column" paddingX={2} paddingY={1}>
      <Text bold color="red">
        The agent is locked.
      </Text>
      <Text>Enter the vault passphrase to unlock it.</Text>
      <Box marginTop={1}>
        {editing ? (
          <TextField
            label="Passphrase: "
            value={value}
            onChange={setValue}
            onSubmit={submit}
            onCancel={() => {
              setValue('');
              setEditing(false);
            }}
            mask
            focus={active && !busy}
          />
        ) : (
          <Text color="gray">Press Enter to type the passphrase{keyringUnlock ? ' · k to use the one remembered in the OS keyring' : ''} · q quits · ? help</Text>
        )}
      </Box>
      {busy ? (
        <Box marginTop={1}>
          <Spinner label="Unlocking…" />
        </Box>
      ) : null}
      {error && !busy ? (
        <Box marginTop={1}>
          {error.code === ErrorCode.BAD_PASSPHRASE ? (
            <Text color="red">Wrong passphrase — try again.</Text>
          ) : error.code === ErrorCode.RATE_LIMITED ? (
            <RetryWait error={error} />
          ) : (
            <Text color="red">{error.message}</Text>
          )}
        </Box>
      ) : null}
      {editing ? (
        <Box marginTop={1}>
          <Text color="gray">Enter unlocks · Esc stops typing · Ctrl-C quits</Text>
        </Box>
      ) : null}
    </Box>
  );
}

/** RATE_LIMITED: the agent's wait counting down (its `retry_after_s`), then that a try is taken again. */
function RetryWait({ error }: { error: UnlockError }) {
  const { now } = useDeps();
  const [, tick] = useState(0);
  const left = error.retryAt === undefined ? null : Math.ceil((error.retryAt - now()) / 1000);
  useInterval(() => tick((n) => n + 1), left !== null && left > 0 ? 1000 : null);
  if (left === null) return <Text color="yellow">{error.message}</Text>;
  return <Text color="yellow">{left > 0 ? rateLimitedError(left).message : 'You can try again now.'}</Text>;
}
