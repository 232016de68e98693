import { Box, Text, useInput } from 'ink';
import { useState } from 'react';
import type { AccountInfo } from '../../protocol/results.js';
import { ConfirmPrompt } from '../components/ConfirmPrompt.js';
import { toneColor } from '../components/tone.js';
import { accountStatusLabel, ago, when, type Tone } from '../format.js';
import { useAccountActions } from '../hooks/use-account-actions.js';
import { useTokenPeek } from '../hooks/use-token-peek.js';

export interface DetailsScreenProps {
  account: AccountInfo;
  active: boolean;
  nowS: number;
  reload(): void;
  notify(text: string, tone?: Tone): void;
  onBack(): void;
  onAuthorize(a: AccountInfo): void;
}

/** One account in full. The token is fetched only on `t`, and shown masked until `v`. */
export function DetailsScreen({ account: a, active, nowS, reload, notify, onBack, onAuthorize }: DetailsScreenProps) {
  const peek = useTokenPeek(a.service, a.account);
  const actions = useAccountActions(reload);
  const [confirm, setConfirm] = useState(false);
  const status = accountStatusLabel(a, nowS);

  useInput(
    (input, key) => {
      if (key.escape) onBack();
      else if (input === 't') void peek.fetch();
      else if (input === 'v') peek.toggleReveal();
      else if (input === 'r') void actions.refresh(a).then((o) => notify(o.message, o.tone));
      else if (input === 'A' || input === 'u') {
        const refusal = actions.authorizeRefusal(a);
        if (refusal) notify(refusal, 'warn');
        else onAuthorize(a);
      } else if (input === 'd') setConfirm(true);
    },
    { isActive: active && !confirm },
  );

  const rows: [string, string, Tone?][] = [
    ['service', a.service],
    ['account', a.account],
    ['kind', a.kind],
    ['status', status.text, status.tone],
    ['token type', a.token_type ?? '—'],
    ['expires', a.expires_at === null ? 'never (as far as the agent knows)' : when(a.expires_at)],
    ['scopes', a.scopes.join(' ') || '—'],
    ['created', when(a.created)],
    ['last used', ago(a.last_used, nowS)],
  ];
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>{`${a.service}/${a.account}`}</Text>
      <Box flexDirection="column" marginTop={1}>
        {rows.map(([k, v, tone]) => (
          <Text key={k}>
            <Text color="gray">{k.padEnd(12)}</Text>
            <Text color={tone ? toneColor(tone) : undefined}>{v}</Text>
          </Text>
        ))}
        <Text>
          <Text color="gray">{'token'.padEnd(12)}</Text>
          {peek.busy ? (
            <Text color="gray">fetching…</Text>
          ) : peek.shown === null ? (
            <Text color="gray">hidden — press t to fetch it</Text>
          ) : (
            <Text color={peek.revealed ? 'yellow' : undefined}>
              {peek.shown}
              <Text color="gray">{peek.revealed ? '   (v hides it)' : '   (v reveals it)'}</Text>
            </Text>
          )}
        </Text>
        {peek.error ? <Text color="red">{peek.error}</Text> : null}
      </Box>
      <Box marginTop={1}>
        {confirm ? (
          <ConfirmPrompt
            question={`Remove ${a.service}/${a.account} and its credentials?`}
            focus={active}
            onAnswer={(yes) => {
              setConfirm(false);
              if (!yes) return notify('Nothing removed.', 'dim');
              void actions.remove(a).then((o) => {
                notify(o.message, o.tone);
                if (o.tone === 'ok') onBack();
              });
            }}
          />
        ) : (
          <Text color="gray">t token · v reveal · r refresh · A authorize again · d remove · Esc back</Text>
        )}
      </Box>
    </Box>
  );
}
