import { Spinner } from '@inkjs/ui';
import { Box, Text, useInput, useStdout } from 'ink';
import { useRef, useState, type ReactNode } from 'react';
import type { SigilError } from '../../protocol/errors.js';
import { checkService } from '../../protocol/names.js';
import { formatDuration } from '../../util/duration.js';
import type { FlowKind, FlowStart, ProviderInfo } from '../../protocol/results.js';
import { DeviceCodeBox } from '../components/DeviceCodeBox.js';
import { SelectList, type SelectItem } from '../components/SelectList.js';
import { TextField } from '../components/TextField.js';
import { UrlLine } from '../components/UrlLine.js';
import type { Tone } from '../format.js';
import { useDeps } from '../hooks/use-deps.js';
import { useFlow } from '../hooks/use-flow.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';
import { useProviders } from '../hooks/use-providers.js';
import { StaticTokenForm } from './StaticTokenForm.js';
import { clipboardSequence, printableUrl } from '../terminal-links.js';

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
  /** The notice line: "copied". */
  notify(text: string, tone?: Tone): void;
  onDone(changed: boolean): void;
}

type CustomStep = 'custom-name' | 'custom-issuer' | 'custom-client' | 'custom-scopes' | 'custom-saving';
type Step = 'provider' | CustomStep | 'name' | 'scopes' | 'kind' | 'flow' | 'static';

const CUSTOM_LABEL = 'Custom OpenID issuer…';
const STATIC_LABEL = 'Static token or API key…';

/** The step that edits each add_provider argument the agent may name as wrong (its `field`). */
const STEP_OF_FIELD = new Map<string, CustomStep>([
  ['name', 'custom-name'],
  ['client_id', 'custom-client'],
  ['scopes', 'custom-scopes'],
]);

/** Which field an add_provider error is about, so the person lands where the fix is: the issuer (and its endpoints) unless named. */
function customStepFor(err: SigilError): CustomStep {
  return STEP_OF_FIELD.get(err.details.field ?? '') ?? 'custom-issuer';
}

const splitScopes = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/**
 * Add an OAuth account (or sign one in again): provider, name, scopes, flow kind, then the
 * sign-in. Or, from the same list, a static token or API key (StaticTokenForm).
 */
export function AddAccountScreen({ preset, active, height, notify, onDone }: AddAccountScreenProps) {
  const { browser } = useDeps();
  const { stdout } = useStdout();
  const { providers, error: providersError, reload: reloadProviders, add: addProvider } = useProviders();
  const flow = useFlow();
  const [step, setStep] = useState<Step>(preset ? 'kind' : 'provider');
  const [provider, setProvider] = useState<string | null>(preset?.service ?? null);
  const [name, setName] = useState(preset?.account ?? '');
  const [scopes, setScopes] = useState(preset ? preset.scopes.join(' ') : '');
  const [problem, setProblem] = useState<string | null>(null);
  /** The provider list's label picked last: going back to the list puts the cursor there. */
  const [picked, setPicked] = useState<string | null>(null);
  // "Custom OpenID issuer…": a new [providers.NAME] the agent checks and saves (add_provider).
  const [customName, setCustomName] = useState('');
  const [customIssuer, setCustomIssuer] = useState('');
  const [customClient, setCustomClient] = useState('');
  const [customScopes, setCustomScopes] = useState('openid');
  /** Bumped by Esc while add_provider runs: its late answer then moves no step. */
  const saveAttempt = useRef(0);
  const typing = step === 'name' || step === 'scopes' || (step.startsWith('custom-') && step !== 'custom-saving');
  useKeyCapture(active && typing);

  const info: ProviderInfo | undefined = providers?.find((p) => p.name === provider);
  const phase = flow.state.phase;
  const running = phase === 'starting' || phase === 'waiting';

  useInput(
    (input, key) => {
      if (running && key.escape) void flow.cancel();
      else if (!running && (key.escape || key.return)) onDone(phase === 'done');
      else if (input === 'c' && flow.state.phase === 'waiting') {
        // OSC 52: the terminal sets the clipboard (also over SSH); nothing is drawn.
        stdout.write(clipboardSequence(signInUrl(flow.state.flow)));
        notify('Copied the sign-in URL to the clipboard (OSC 52).', 'ok');
      }
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

  // Esc while the agent checks the issuer: back to the last field (the answer is ignored).
  useInput(
    (_input, key) => {
      if (!key.escape) return;
      saveAttempt.current++;
      back('custom-scopes');
    },
    { isActive: active && step === 'custom-saving' },
  );

  const saveCustom = async () => {
    const attempt = ++saveAttempt.current;
    setProblem(null);
    setStep('custom-saving');
    const scopeList = splitScopes(customScopes);
    try {
      await addProvider({ name: customName, issuer: customIssuer.trim(), client_id: customClient.trim(), scopes: scopeList });
    } catch (err) {
      if (attempt !== saveAttempt.current) return;
      setProblem((err as SigilError).message);
      setStep(customStepFor(err as SigilError));
      return;
    }
    await reloadProviders(); // the list shows it (also when Esc came meanwhile)
    if (attempt !== saveAttempt.current) return;
    setProvider(customName);
    setPicked(customName);
    setScopes(scopeList.join(' '));
    setStep('name');
  };

  const back = (to: Step | null) => {
    setProblem(null);
    if (to === null) onDone(false);
    else setStep(to);
  };

  if (step === 'static') return <StaticTokenForm active={active} notify={notify} onBack={() => back('provider')} onDone={onDone} />;

  const title = preset ? `Sign in to ${preset.service}/${preset.account} again` : 'Add an account';
  let body: ReactNode;
  if (step === 'provider') {
    // 'custom', 'static': the entries after the providers.
    const items: SelectItem<ProviderInfo | 'custom' | 'static'>[] = (providers ?? []).map((p) => ({
      value: p,
      label: p.name,
      hint: p.configured ? `${p.builtin ? 'preset' : 'config.toml'}${p.discovery ? ', discovery' : ''}` : `not ready: ${p.problem ?? 'not configured'}`,
      disabled: !p.configured,
    }));
    items.push({ value: 'custom', label: CUSTOM_LABEL, hint: 'any OpenID Connect provider, found by discovery; saved to config.toml' });
    items.push({ value: 'static', label: STATIC_LABEL, hint: 'a token you already have (personal access token, API key): no sign-in' });
    body = (
      <Box flexDirection="column">
        <Text bold>Provider:</Text>
        {providersError ? <Text color="red">{providersError}</Text> : null}
        {providers ? (
          <SelectList
            items={items}
            initial={Math.max(0, items.findIndex((i) => i.label === picked))}
            focus={active}
            height={Math.max(3, height - 6)}
            onCancel={() => back(null)}
            onSelect={(item) => {
              setPicked(item.label);
              if (item.value === 'custom' || item.value === 'static') {
                setProblem(null);
                setStep(item.value === 'custom' ? 'custom-name' : 'static');
                return;
              }
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
  } else if (step === 'custom-name') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Provider name: "
          value={customName}
          onChange={setCustomName}
          focus={active}
          placeholder="e.g. corp (the service name in sigil-token corp ACCOUNT)"
          onCancel={() => back('provider')}
          onSubmit={(v) => {
            const n = v.trim();
            if (!n) return setProblem('The provider needs a name.');
            try {
              checkService(n);
            } catch (err) {
              return setProblem((err as Error).message);
            }
            if (providers?.some((p) => p.name === n)) return setProblem(`"${n}" is already a provider: pick it from the list (Esc).`);
            setCustomName(n);
            back('custom-issuer');
          }}
        />
        <Text color="gray">Lowercase letters, digits, - and _; it becomes [providers.NAME] in config.toml.</Text>
      </Box>
    );
  } else if (step === 'custom-issuer') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Issuer URL: "
          value={customIssuer}
          onChange={setCustomIssuer}
          focus={active}
          placeholder="https://login.example.com"
          onCancel={() => back('custom-name')}
          onSubmit={(v) => {
            if (!v.trim()) return setProblem('The issuer URL is needed: where /.well-known/openid-configuration lives.');
            back('custom-client');
          }}
        />
        <Text color="gray">https (plain http only for 127.0.0.1, ::1 or localhost).</Text>
      </Box>
    );
  } else if (step === 'custom-client') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Client id: "
          value={customClient}
          onChange={setCustomClient}
          focus={active}
          placeholder="from the app you registered with the provider"
          onCancel={() => back('custom-issuer')}
          onSubmit={(v) => {
            if (!v.trim()) return setProblem('The client id is needed: register an app (a public client) with the provider to get one.');
            back('custom-scopes');
          }}
        />
        <Text color="gray">A client secret, if the provider wants one: sigil providers secret NAME (it goes in the vault).</Text>
      </Box>
    );
  } else if (step === 'custom-scopes') {
    body = (
      <Box flexDirection="column">
        <TextField label="Default scopes: " value={customScopes} onChange={setCustomScopes} focus={active} placeholder="(none)" onCancel={() => back('custom-client')} onSubmit={() => void saveCustom()} />
        <Text color="gray">Space-separated; Enter checks the issuer and saves the provider to config.toml.</Text>
      </Box>
    );
  } else if (step === 'custom-saving') {
    body = <Spinner label={`Checking ${customIssuer.trim()} (discovery)… Esc goes back`} />;
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
    const { preferred, canLaunch } = browser();
    const preferDevice = device && preferred === 'device';
    const items: SelectItem<FlowKind>[] = [
      { value: 'auth_code', label: 'browser', hint: canLaunch ? 'opens your browser' : 'shows a URL to open in a browser on this machine' },
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
            const list = splitScopes(scopes);
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
      {step.startsWith('custom-') ? (
        <Text color="gray">{`${CUSTOM_LABEL.replace('…', '')}${customName ? `: ${customName}` : ''}`}</Text>
      ) : step !== 'provider' && step !== 'flow' ? (
        <Text color="gray">{`${provider ?? ''}${name ? ` / ${name}` : ''}`}</Text>
      ) : null}
      <Box marginTop={1} flexDirection="column">
        {body}
      </Box>
      {problem ? <Text color="red">{problem}</Text> : null}
      {step !== 'flow' && step !== 'custom-saving' ? <Text color="gray">Enter next · Esc back</Text> : null}
    </Box>
  );
}

/** The URL the c key copies, as shown: the one to open (with the code in it, when the provider gives that). */
function signInUrl(f: FlowStart): string {
  return printableUrl((f.kind === 'device' ? (f.verification_uri_complete ?? f.verification_uri) : f.authorization_url) ?? '');
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
              <UrlLine url={f.authorization_url ?? ''} />
            </Box>
          )}
          <Spinner label={`Waiting for the sign-in${f.expires_in ? ` (the code expires in ${formatDuration(f.expires_in)})` : ''}… c copies the URL · Esc cancels`} />
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
