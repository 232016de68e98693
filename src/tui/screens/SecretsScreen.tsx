import { Box, Text, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { ConfirmPrompt } from '../components/ConfirmPrompt.js';
import { Table, type Column } from '../components/Table.js';
import { TitleLine } from '../components/TitleLine.js';
import { MASKED_VALUE, secretExpiryLabel, secretValueLines, type Tone } from '../format.js';
import { useDeps } from '../hooks/use-deps.js';
import { moveByKey, useListCursor } from '../hooks/use-list-cursor.js';
import { useSecretReveal } from '../hooks/use-secret-reveal.js';
import { useSecrets, type SecretRow } from '../hooks/use-secrets.js';

export interface SecretsScreenProps {
  active: boolean;
  height: number;
  width: number;
  nowS: number;
  /** The secret to put the cursor on (the one just added, or whose history was open). */
  select?: string | undefined;
  notify(text: string, tone?: Tone): void;
  onAdd(): void;
  onReplace(s: SecretRow): void;
  onHistory(s: SecretRow): void;
  onBack(): void;
}

/** "2 versions": the previous values kept; empty for none. */
const versionsText = (n: number) => (n ? `${n} version${n === 1 ? '' : 's'}` : '');

const LABEL = 'value  ';
const HIDE_HINT = '   (v hides it)';
/** Room for a line of the value beside its label and the hint. */
const valueWidth = (width: number) => Math.max(8, width - LABEL.length - HIDE_HINT.length - 1);

/** Every free-form secret: names, kept versions and expiry; the selected one's value masked until `v`. */
export function SecretsScreen({ active, height, width, nowS, select, notify, onAdd, onReplace, onHistory, onBack }: SecretsScreenProps) {
  const { session } = useDeps();
  const { secrets, error, reload } = useSecrets();
  const list = secrets ?? [];
  const [confirm, setConfirm] = useState<SecretRow | null>(null);
  const [busy, setBusy] = useState(false);
  // Title, table header, the value line and the prompt line.
  const tableRows = Math.max(1, height - 4);
  const cursor = useListCursor(list.length, tableRows);
  const selected = list[cursor.selected];
  const shown = useSecretReveal(selected?.name);
  // A revealed value of several lines takes rows from the table: the selected row stays in view.
  const valueLines = shown.value === null ? 1 : secretValueLines(shown.value, valueWidth(width)).length;
  const visibleRows = Math.max(1, tableRows - valueLines + 1);
  const offset = Math.max(cursor.offset, cursor.selected - visibleRows + 1);

  // The cursor goes to `select` once, when the list first comes.
  const placed = useRef(false);
  useEffect(() => {
    if (!secrets || placed.current) return;
    placed.current = true;
    const at = select === undefined ? -1 : secrets.findIndex((s) => s.name === select);
    if (at > 0) cursor.moveTo(at);
  }, [secrets, select, cursor]);

  const remove = async (s: SecretRow) => {
    setBusy(true);
    try {
      await session.call('delete_secret', { name: s.name });
      notify(`Removed ${s.name}${s.versions ? ` and its ${versionsText(s.versions)} kept` : ''}.`, 'ok');
      await reload();
    } catch (err) {
      notify(`delete ${s.name}: ${(err as Error).message}`, 'bad');
    } finally {
      setBusy(false);
    }
  };

  useInput(
    (input, key) => {
      if (moveByKey(cursor, input, key, visibleRows, list.length)) return;
      if (input === 'a') onAdd();
      else if (key.escape) onBack();
      else if (!selected) return;
      else if (input === 'v') void shown.toggle();
      else if (input === 'e') onReplace(selected);
      else if (input === 'h' || key.return) onHistory(selected);
      else if (input === 'd') setConfirm(selected);
    },
    { isActive: active && !confirm && !busy },
  );

  const columns: Column<SecretRow>[] = [
    { title: 'NAME', cell: (s) => s.name, max: 48 },
    { title: 'HISTORY', cell: (s) => versionsText(s.versions) || '—', max: 12 },
    { title: 'EXPIRES', cell: (s) => secretExpiryLabel(s.expires_at, nowS).text, tone: (s) => secretExpiryLabel(s.expires_at, nowS).tone, max: 16 },
  ];

  return (
    <Box flexDirection="column" height={height}>
      <TitleLine title="Secrets" hint={secrets ? `  ${list.length} · v reveal · a add · e replace · h history · d delete` : '  loading…'} />
      {error ? <Text color="red">{error}</Text> : null}
      <Box flexGrow={1} flexDirection="column">
        <Table
          columns={columns}
          rows={list}
          selected={cursor.selected}
          offset={offset}
          height={visibleRows + 1}
          width={width}
          rowKey={(s) => s.name}
          empty={secrets ? <Text color="gray">{'  No secrets yet — press a to add one (API keys, passwords).'}</Text> : null}
        />
      </Box>
      {selected ? <ValueView reveal={shown} width={width} /> : <Text> </Text>}
      {confirm ? (
        <ConfirmPrompt
          question={`Delete secret ${confirm.name}${confirm.versions ? ` and its ${versionsText(confirm.versions)} kept` : ''}?`}
          focus={active}
          onAnswer={(yes) => {
            const target = confirm;
            setConfirm(null);
            if (yes) void remove(target);
            else notify('Nothing deleted.', 'dim');
          }}
        />
      ) : busy ? (
        <Text color="gray">deleting…</Text>
      ) : null}
    </Box>
  );
}

/** The selected secret's value: masked (nothing fetched) until v, then its lines, escaped. */
function ValueView({ reveal, width }: { reveal: ReturnType<typeof useSecretReveal>; width: number }) {
  const label = <Text color="gray">{LABEL}</Text>;
  if (reveal.busy) {
    return (
      <Text>
        {label}
        <Text color="gray">asking the agent…</Text>
      </Text>
    );
  }
  if (reveal.error) {
    return (
      <Text wrap="truncate">
        {label}
        <Text color="red">{reveal.error}</Text>
      </Text>
    );
  }
  if (reveal.value === null) {
    return (
      <Text>
        {label}
        {MASKED_VALUE}
        <Text color="gray">{'   (v reveals it; the agent audits that)'}</Text>
      </Text>
    );
  }
  const lines = secretValueLines(reveal.value, valueWidth(width));
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate">
          <Text color="gray">{i === 0 ? LABEL : ' '.repeat(LABEL.length)}</Text>
          <Text color={typeof reveal.value === 'string' ? 'yellow' : 'gray'}>{l}</Text>
          {i === 0 ? <Text color="gray">{HIDE_HINT}</Text> : null}
        </Text>
      ))}
    </Box>
  );
}
