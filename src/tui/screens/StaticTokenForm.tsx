import { Spinner } from '@inkjs/ui';
import { Box, Text } from 'ink';
import { useState, type ReactNode } from 'react';
import type { SigilError } from '../../protocol/errors.js';
import { checkAccount, checkService } from '../../protocol/names.js';
import { authScheme } from '../../protocol/token-rules.js';
import { ExpiresInField } from '../components/ExpiresInField.js';
import { TextField } from '../components/TextField.js';
import type { Tone } from '../format.js';
import { useDeps } from '../hooks/use-deps.js';
import { accountExists } from '../hooks/use-flow.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';

export interface StaticTokenFormProps {
  active: boolean;
  notify(text: string, tone?: Tone): void;
  /** Back to the provider list (Esc on the first field). */
  onBack(): void;
  onDone(changed: boolean): void;
}

type Step = 'service' | 'account' | 'checking' | 'token' | 'type' | 'expiry' | 'saving';

/**
 * A token the person already has (a personal access token, an API key), stored as
 * `sigil token set` stores it: service, account, the token (masked: it never reaches a
 * frame), its Authorization scheme and an optional lifetime. No sign-in, nothing to refresh.
 */
export function StaticTokenForm({ active, notify, onBack, onDone }: StaticTokenFormProps) {
  const { session } = useDeps();
  const [step, setStep] = useState<Step>('service');
  const [service, setService] = useState('');
  const [account, setAccount] = useState('');
  const [token, setToken] = useState('');
  const [type, setType] = useState('Bearer');
  const [expiresIn, setExpiresIn] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const waiting = step === 'checking' || step === 'saving';
  useKeyCapture(active && !waiting);

  const go = (to: Step) => {
    setProblem(null);
    setStep(to);
  };
  /** A name the agent would refuse: said before the token is typed. */
  const badName = (check: (v: string) => string, v: string): string | null => {
    try {
      check(v);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };

  const checkNew = async (name: string) => {
    go('checking');
    try {
      if (await accountExists(session, service, name)) {
        setProblem(`account ${service}/${name} already exists (remove it first, or use another name)`);
        return setStep('account');
      }
      go('token');
    } catch (err) {
      setProblem((err as Error).message);
      setStep('account');
    }
  };

  const save = async (seconds: number | undefined) => {
    go('saving');
    // Bytes on the wire, wiped once sent; the typed string itself cannot be wiped in JS.
    const bytes = Buffer.from(token, 'utf8');
    try {
      const r = await session.call('set_token', { service, account, access_token: bytes, token_type: type, ...(seconds !== undefined ? { expires_in: seconds } : {}) });
      setToken('');
      notify(`Stored a token for ${r.service}/${r.account}. Use it with: sigil-token ${r.service} ${r.account}`, 'ok');
      onDone(true);
    } catch (err) {
      setProblem((err as SigilError).message);
      setStep('expiry');
    } finally {
      bytes.fill(0);
    }
  };

  let body: ReactNode;
  if (step === 'service') {
    body = (
      <TextField
        label="Service: "
        value={service}
        onChange={setService}
        focus={active}
        placeholder="e.g. github, openai (sigil-token SERVICE ACCOUNT)"
        onCancel={onBack}
        onSubmit={(v) => {
          const s = v.trim();
          const bad = s ? badName(checkService, s) : 'The token needs a service name.';
          if (bad) return setProblem(bad);
          setService(s);
          go('account');
        }}
      />
    );
  } else if (step === 'account') {
    body = (
      <TextField
        label={`Account name for ${service}: `}
        value={account}
        onChange={setAccount}
        focus={active}
        placeholder="e.g. work, ci"
        onCancel={() => go('service')}
        onSubmit={(v) => {
          const a = v.trim();
          const bad = a ? badName(checkAccount, a) : 'The account needs a name.';
          if (bad) return setProblem(bad);
          setAccount(a);
          void checkNew(a);
        }}
      />
    );
  } else if (step === 'token') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Token: "
          value={token}
          onChange={setToken}
          mask
          focus={active}
          onCancel={() => go('account')}
          onSubmit={(v) => {
            if (!v) return setProblem('The token is empty.');
            go('type');
          }}
        />
        <Text color="gray">Shown masked; a paste works.</Text>
      </Box>
    );
  } else if (step === 'type') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Type: "
          value={type}
          onChange={setType}
          focus={active}
          onCancel={() => go('token')}
          onSubmit={(v) => {
            const scheme = authScheme(v.trim());
            if (!scheme) return setProblem('The type is one word of "Authorization: TYPE TOKEN", such as Bearer or token.');
            setType(scheme);
            go('expiry');
          }}
        />
        <Text color="gray">The scheme of the Authorization header; Enter keeps Bearer.</Text>
      </Box>
    );
  } else if (step === 'expiry') {
    body = <ExpiresInField value={expiresIn} onChange={setExpiresIn} focus={active} onCancel={() => go('type')} onProblem={setProblem} onSubmit={(s) => void save(s)} />;
  } else {
    body = <Spinner label={step === 'checking' ? `Checking ${service}/${account}…` : `Storing the token for ${service}/${account}…`} />;
  }

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>Add a static token or API key</Text>
      {step !== 'service' ? <Text color="gray">{`${service}${step !== 'account' ? ` / ${account}` : ''}`}</Text> : null}
      <Box marginTop={1} flexDirection="column">
        {body}
      </Box>
      {problem ? <Text color="red">{problem}</Text> : null}
      {waiting ? null : <Text color="gray">Enter next · Esc back</Text>}
    </Box>
  );
}
