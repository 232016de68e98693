import { Box, Text, useInput } from 'ink';
import { useCallback, useState } from 'react';
import { rollbackText } from '../../cli/rollback-text.js';
import type { SecretHistory } from '../../protocol/results.js';
import { ConfirmPrompt } from '../components/ConfirmPrompt.js';
import { Table, type Column } from '../components/Table.js';
import { TitleLine } from '../components/TitleLine.js';
import { auditTime as localTime, type Tone } from '../format.js';
import { useDeps } from '../hooks/use-deps.js';
import { moveByKey, useListCursor } from '../hooks/use-list-cursor.js';
import { useLoaded } from '../hooks/use-loaded.js';

export interface SecretHistoryScreenProps {
  name: string;
  active: boolean;
  height: number;
  width: number;
  notify(text: string, tone?: Tone): void;
  onBack(): void;
}

type Version = SecretHistory['versions'][number];

const COLUMNS: Column<Version>[] = [
  { title: 'VERSION', cell: (v) => String(v.version), max: 8 },
  { title: 'REPLACED AT', cell: (v) => (v.replaced_at === null ? '—' : localTime(v.replaced_at)), max: 19 },
];

/** The kept versions of one secret, newest first (numbers and times, never values); Enter rolls back to one. */
export function SecretHistoryScreen({ name, active, height, width, notify, onBack }: SecretHistoryScreenProps) {
  const { session } = useDeps();
  const { data: history, error, reload } = useLoaded(useCallback(() => session.call('secret_history', { name }), [session, name]));
  const [confirm, setConfirm] = useState<Version | null>(null);
  const [busy, setBusy] = useState(false);
  // Title, the current value's line, table header and the prompt line.
  const rows = Math.max(1, height - 4);
  const versions = history?.versions ?? [];
  const cursor = useListCursor(versions.length, rows);
  const selected = versions[cursor.selected];


  const rollback = async (v: Version) => {
    setBusy(true);
    try {
      notify(rollbackText(await session.call('rollback_secret', { name, version: v.version })), 'ok');
      await reload();
      cursor.moveTo(0); // the value it replaced is the newest version now
    } catch (err) {
      notify(`rollback ${name}: ${(err as Error).message}`, 'bad');
    } finally {
      setBusy(false);
    }
  };

  useInput(
    (input, key) => {
      if (moveByKey(cursor, input, key, rows, versions.length)) return;
      if (key.escape) onBack();
      else if (key.return && selected) setConfirm(selected);
    },
    { isActive: active && !confirm && !busy },
  );

  const current = history
    ? history.current_updated !== undefined
      ? `current value written ${localTime(history.current_updated)} · a rollback keeps it as a version`
      : 'no current value (only previous versions are kept)'
    : '';
  return (
    <Box flexDirection="column" height={height}>
      <TitleLine title={`History of ${name}`} hint={history ? `  ${versions.length} kept, newest first · Enter rolls back · Esc back` : '  loading…'} />
      {error ? <Text color="red">{error}</Text> : <Text color="gray">{current || ' '}</Text>}
      <Box flexGrow={1} flexDirection="column">
        <Table
          columns={COLUMNS}
          rows={versions}
          selected={cursor.selected}
          offset={cursor.offset}
          height={rows + 1}
          width={width}
          rowKey={(v) => String(v.version)}
          empty={history ? <Text color="gray">{'  No previous versions: the value was never replaced (or [secrets] history = 0).'}</Text> : null}
        />
      </Box>
      {confirm ? (
        <ConfirmPrompt
          question={`Make version ${confirm.version} of ${name} current again?`}
          focus={active}
          onAnswer={(yes) => {
            const target = confirm;
            setConfirm(null);
            if (yes) void rollback(target);
            else notify('Nothing changed.', 'dim');
          }}
        />
      ) : busy ? (
        <Text color="gray">rolling back…</Text>
      ) : null}
    </Box>
  );
}
