import { Box, Text, useInput } from 'ink';
import { useState } from 'react';
import type { AccountInfo } from '../../protocol/results.js';
import { ConfirmPrompt } from '../components/ConfirmPrompt.js';
import { Table, type Column } from '../components/Table.js';
import { TitleLine } from '../components/TitleLine.js';
import { accountStatusLabel, ago, type Tone } from '../format.js';
import { useAccountActions } from '../hooks/use-account-actions.js';
import { moveByKey, useListCursor } from '../hooks/use-list-cursor.js';

export interface AccountsScreenProps {
  accounts: AccountInfo[] | null;
  error: string | null;
  active: boolean;
  height: number;
  width: number;
  nowS: number;
  reload(): void;
  notify(text: string, tone?: Tone): void;
  onOpen(a: AccountInfo): void;
  onAdd(): void;
  onAuthorize(a: AccountInfo): void;
}

/** Every account with its health; Enter opens one, letters act on the selected one. */
export function AccountsScreen({ accounts, error, active, height, width, nowS, reload, notify, onOpen, onAdd, onAuthorize }: AccountsScreenProps) {
  const list = accounts ?? [];
  // Title, table header and the prompt line take three rows.
  const tableRows = Math.max(1, height - 3);
  const cursor = useListCursor(list.length, tableRows);
  const actions = useAccountActions(reload);
  const [confirm, setConfirm] = useState<AccountInfo | null>(null);
  const selected = list[cursor.selected];

  useInput(
    (input, key) => {
      if (moveByKey(cursor, input, key, tableRows, list.length)) return;
      if (input === 'a') onAdd();
      else if (!selected) return;
      else if (key.return) onOpen(selected);
      else if (input === 'r') void actions.refresh(selected).then((o) => notify(o.message, o.tone));
      else if (input === 'A' || input === 'u') {
        const refusal = actions.authorizeRefusal(selected);
        if (refusal) notify(refusal, 'warn');
        else onAuthorize(selected);
      }
      else if (input === 'd') setConfirm(selected);
    },
    { isActive: active && !confirm },
  );

  const columns: Column<AccountInfo>[] = [
    { title: 'SERVICE', cell: (a) => a.service, max: 20 },
    { title: 'ACCOUNT', cell: (a) => a.account, max: 24 },
    { title: 'KIND', cell: (a) => a.kind, max: 8 },
    { title: 'STATUS', cell: (a) => accountStatusLabel(a, nowS).text, tone: (a) => accountStatusLabel(a, nowS).tone, max: 16 },
    { title: 'SCOPES', cell: (a) => a.scopes.join(' ') || '—', max: 32 },
    { title: 'LAST USED', cell: (a) => ago(a.last_used, nowS), max: 14 },
  ];

  return (
    <Box flexDirection="column" height={height}>
      <TitleLine title="Accounts" hint={accounts ? `  ${list.length} · Enter details · a add · r refresh · A authorize · d remove` : '  loading…'} />
      {error ? <Text color="red">{error}</Text> : null}
      <Box flexGrow={1} flexDirection="column">
        <Table
          columns={columns}
          rows={list}
          selected={cursor.selected}
          offset={cursor.offset}
          height={tableRows + 1}
          width={width}
          rowKey={(a) => `${a.service}/${a.account}`}
          empty={accounts ? <Text color="gray">{'  No accounts yet — press a to add one: sign in, or store a static token or API key.'}</Text> : null}
        />
      </Box>
      {confirm ? (
        <ConfirmPrompt
          question={`Remove ${confirm.service}/${confirm.account} and its credentials?`}
          focus={active}
          onAnswer={(yes) => {
            const target = confirm;
            setConfirm(null);
            if (yes) void actions.remove(target).then((o) => notify(o.message, o.tone));
            else notify('Nothing removed.', 'dim');
          }}
        />
      ) : actions.busy ? (
        <Text color="gray">{`${actions.busy}…`}</Text>
      ) : null}
    </Box>
  );
}
