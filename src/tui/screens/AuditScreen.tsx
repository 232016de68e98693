import { Box, Text, useInput } from 'ink';
import { useState } from 'react';
import type { AuditEntry } from '../../protocol/results.js';
import { Table, type Column } from '../components/Table.js';
import { TextField } from '../components/TextField.js';
import { auditTime, auditWho } from '../format.js';
import { useAuditLog } from '../hooks/use-audit-log.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';

export interface AuditScreenProps {
  active: boolean;
  height: number;
  width: number;
  onBack(): void;
}

const COLUMNS: Column<AuditEntry>[] = [
  { title: 'TIME', cell: (e) => auditTime(e.time), max: 19 },
  { title: 'OP', cell: (e) => e.op ?? '', max: 16 },
  { title: 'TARGET', cell: (e) => e.target ?? '', max: 36 },
  { title: 'RESULT', cell: (e) => e.result ?? '', tone: (e) => (e.result === 'ok' ? 'ok' : 'bad'), max: 16 },
  { title: 'CLIENT', cell: auditWho, max: 48 },
];

/** The audit log, newest last, following new entries; it reads only the lines it shows. */
export function AuditScreen({ active, height, width, onBack }: AuditScreenProps) {
  const [filter, setFilter] = useState('');
  const [filtering, setFiltering] = useState(false);
  // Title, filter line and table header.
  const rows = Math.max(1, height - 3);
  const log = useAuditLog(rows, filter, active);
  useKeyCapture(active && filtering);

  useInput(
    (input, key) => {
      if (key.upArrow || input === 'k') log.up(1);
      else if (key.downArrow || input === 'j') log.down(1);
      else if (key.pageUp) log.up(rows);
      else if (key.pageDown) log.down(rows);
      else if (input === 'g' || key.home) log.top();
      else if (input === 'G' || key.end) log.bottom();
      else if (input === 'f') log.toggleFollow();
      else if (input === '/') setFiltering(true);
      else if (key.escape) {
        if (filter) setFilter('');
        else onBack();
      }
    },
    { isActive: active && !filtering },
  );

  const first = log.matching - log.below - log.view.length + 1;
  const range = log.view.length ? `${first}–${first + log.view.length - 1} of ${log.matching}${filter ? ' matching' : ''}` : filter ? 'nothing matches' : 'empty';
  const more = log.exhausted ? (log.atLimit ? ' · older lines: sigil audit -n N' : '') : ' · PgUp reads older';
  const mode = log.follow ? (log.below > 0 ? `following · ${log.below} newer below (G)` : 'following') : 'paused (f follows)';
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate">
        <Text bold>Audit log</Text>
        <Text color="gray">{`  ${mode} · ${range}${more}${log.loading ? ' · reading…' : ''}`}</Text>
      </Text>
      {filtering ? (
        <TextField
          label="filter /"
          value={filter}
          onChange={setFilter}
          focus={active}
          placeholder="service, account, op or result"
          onSubmit={() => setFiltering(false)}
          onCancel={() => {
            setFilter('');
            setFiltering(false);
          }}
        />
      ) : (
        <Text color="gray">{filter ? `filter: ${filter}  (/ edits, Esc clears)` : '/ filter · ↑↓ PgUp PgDn g G scroll · f follow'}</Text>
      )}
      {log.error ? <Text color="red">{log.error}</Text> : null}
      <Table columns={COLUMNS} rows={log.view} selected={-1} offset={0} height={rows + 1} width={width} rowKey={(e, i) => `${e.time ?? ''}#${i}`} />
    </Box>
  );
}
