import { Spinner } from '@inkjs/ui';
import { Box, Text, useInput } from 'ink';
import { useState, type ReactNode } from 'react';
import { formatDuration } from '../../util/duration.js';
import type { FlowKind, ProviderInfo } from '../../protocol/results.js';
import { DeviceCodeBox } from '../components/DeviceCodeBox.js';
import { SelectList, type SelectItem } from '../components/SelectList.js';
import { TextField } from '../components/TextField.js';
import { useDeps } from '../hooks/use-deps.js';
import { useFlow } from '../hooks/use-flow.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';
import { useProviders } from '../hooks/use-providers.js';

export interface AddPreset {
  service: string;
  account: string;
  scopes: string[];
}

export interface AddAccountScreenProps {
  /** Authorize an existing account again: provider and name are known. */
  preset?: AddPreset | undefined;
  active: boolean;
  height: number;
  onDone(changed: boolean): void;
}

type Step = 'provider' | 'name' | 'scopes' | 'kind' | 'flow';

/** Add an OAuth account (or sign one in again): provider, name, scopes, flow kind, then the sign-in. */
export function AddAccountScreen({ preset, active, height, onDone }: AddAccountScreenProps) {
  const { canOpenBrowser } = useDeps();
  const { providers, error: providersError } = useProviders();
  const flow = useFlow();
  const [step, setStep] = useState<Step>(preset ? 'kind' : 'provider');
  const [provider, setProvider] = useState<string | null>(preset?.service ?? null);
  const [name, setName] = useState(preset?.account ?? '');
  const [scopes, setScopes] = useState(preset ? preset.scopes.join(' ') : '');
  const [problem, setProblem] = useState<string | null>(null);
  const typing = step === 'name' || step === 'scopes';
  useKeyCapture(active && typing);

  const info: ProviderInfo | undefined = providers?.find((p) => p.name === provider);
  const phase = flow.state.phase;
  const running = phase === 'starting' || phase === 'waiting';

  useInput(
    (_input, key) => {
      if (running && key.escape) void flow.cancel();
      else if (!running && (key.escape || key.return)) onDone(phase === 'done');
    },
    { isActive: active && step === 'flow' },
  );

  // Esc works while the provider list is still loading, too.
  useInput(
    (_input, key) => {
      if (key.escape) onDone(false);
    },
    { isActive: active && step === 'provider' && !providers },
  );

  const back = (to: Step | null) => {
    setProblem(null);
    if (to === null) onDone(false);
    else setStep(to);
  };

  const title = preset ? `Sign in to ${preset.service}/${preset.account} again` : 'Add an account';
  let body: ReactNode;
  if (step === 'provider') {
    const items: SelectItem<ProviderInfo>[] = (providers ?? []).map((p) => ({
      value: p,
      label: p.name,
      hint: p.configured ? `${p.builtin ? 'preset' : 'config.toml'}${p.discovery ? ', discovery' : ''}` : `not ready: ${p.problem ?? 'not configured'}`,
      disabled: !p.configured,
    }));
    body = (
      <Box flexDirection="column">
        <Text bold>Provider:</Text>
        <Text color="gray">(another OpenID issuer: add [providers.NAME] with issuer = … to config.toml)</Text>
        {providersError ? <Text color="red">{providersError}</Text> : null}
        {providers ? (
          <SelectList
            items={items}
            focus={active}
            height={Math.max(3, height - 6)}
            onCancel={() => back(null)}
            onSelect={(item) => {
              if (!item.value.configured) {
                setProblem(`${item.value.name} is not ready: ${item.value.problem ?? 'not configured'}`);
                return;
              }
              setProblem(null);
              setProvider(item.value.name);
              setScopes((item.value.scopes ?? []).join(' '));
              setStep('name');
            }}
          />
        ) : (
          <Spinner label="Loading providers…" />
        )}
      </Box>
    );
  } else if (step === 'name') {
    body = (
      <TextField
        label={`Account name for ${provider}: `}
        value={name}
        onChange={setName}
        focus={active}
        placeholder="e.g. work, personal"
        onCancel={() => back('provider')}
        onSubmit={(v) => {
          if (!v.trim()) return setProblem('The account needs a name.');
          setName(v.trim());
          back('scopes');
        }}
      />
    );
  } else if (step === 'scopes') {
    body = (
      <Box flexDirection="column">
        <TextField label="Scopes: " value={scopes} onChange={setScopes} focus={active} placeholder="(the provider's defaults)" onCancel={() => back('name')} onSubmit={() => back('kind')} />
        <Text color="gray">Space-separated; Enter keeps what is shown.</Text>
      </Box>
    );
  } else if (step === 'kind') {
    const device = info?.device !== false;
    const preferDevice = device && !canOpenBrowser();
    const items: SelectItem<FlowKind>[] = [
      { value: 'auth_code', label: 'browser', hint: canOpenBrowser() ? 'opens your browser here' : 'shows a URL to open in a browser on this machine' },
      { value: 'device', label: 'device code', hint: device ? 'enter a code on any device' : `${provider} has no device endpoint`, disabled: !device },
    ];
    body = (
      <Box flexDirection="column">
        <Text>How to sign in:</Text>
        <SelectList
          items={items}
          initial={preferDevice ? 1 : 0}
          focus={active}
          height={2}
          onCancel={() => back(preset ? null : 'scopes')}
          onSelect={(item) => {
            if (item.disabled) return setProblem(item.hint ?? 'not available');
            setProblem(null);
            setStep('flow');
            const list = scopes.split(/[\s,]+/).filter(Boolean);
            void flow.start(provider!, name, item.value, list.length ? list : undefined, { mustBeNew: !preset });
          }}
        />
      </Box>
    );
  } else {
    body = <FlowView state={flow.state} service={provider ?? ''} account={name} />;
  }

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>{title}</Text>
      {step !== 'provider' && step !== 'flow' ? <Text color="gray">{`${provider ?? ''}${name ? ` / ${name}` : ''}`}</Text> : null}
      <Box marginTop={1} flexDirection="column">
        {body}
      </Box>
      {problem ? <Text color="red">{problem}</Text> : null}
      {step !== 'flow' ? <Text color="gray">Enter next · Esc back</Text> : null}
    </Box>
  );
}

function FlowView({ state, service, account }: { state: ReturnType<typeof useFlow>['state']; service: string; account: string }) {
  switch (state.phase) {
    case 'idle':
    case 'starting':
      return <Spinner label="Starting the sign-in…" />;
    case 'waiting': {
      const f = state.flow;
      return (
        <Box flexDirection="column">
          {f.notice ? <Text color="yellow">{`Note: ${f.notice}`}</Text> : null}
          {f.kind === 'device' ? (
            <DeviceCodeBox code={f.user_code ?? ''} uri={f.verification_uri ?? ''} complete={f.verification_uri_complete} />
          ) : (
            <Box flexDirection="column" marginBottom={1}>
              <Text>{state.browserOpened ? `Opened your browser to sign in to ${service}. If it did not open, visit:` : `Sign in to ${service} by visiting:`}</Text>
              <Text color="cyan">{f.authorization_url}</Text>
            </Box>
          )}
          <Spinner label={`Waiting for the sign-in${f.expires_in ? ` (the code expires in ${formatDuration(f.expires_in)})` : ''}… Esc cancels`} />
        </Box>
      );
    }
    case 'done':
      return (
        <Box flexDirection="column">
          <Text color="green" bold>
            {`✔ Authorized ${service}/${account}${state.result.scopes.length ? ` with scopes ${state.result.scopes.join(' ')}` : ''}.`}
          </Text>
          <Text>{`Use it with: sigil-token ${service} ${account}`}</Text>
          <Text color="gray">Enter or Esc: back to the accounts</Text>
        </Box>
      );
    case 'failed':
      return (
        <Box flexDirection="column">
          <Text color="red" bold>{`✘ The sign-in failed (${state.code}): ${state.message}`}</Text>
          <Text color="gray">Enter or Esc: back to the accounts</Text>
        </Box>
      );
    case 'cancelled':
      return (
        <Box flexDirection="column">
          <Text color="yellow">Sign-in cancelled.</Text>
          <Text color="gray">Enter or Esc: back to the accounts</Text>
        </Box>
      );
  }
}
