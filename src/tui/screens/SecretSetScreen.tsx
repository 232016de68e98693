import { Spinner } from '@inkjs/ui';
import { Box, Text } from 'ink';
import { useState } from 'react';
import { ErrorCode } from '../../protocol/codes.js';
import type { SigilError } from '../../protocol/errors.js';
import { checkSecretName } from '../../protocol/names.js';
import { ExpiresInField } from '../components/ExpiresInField.js';
import { TextField } from '../components/TextField.js';
import { when, type Tone } from '../format.js';
import { useDeps } from '../hooks/use-deps.js';
import { useKeyCapture } from '../hooks/use-key-capture.js';

/** The secret being replaced; absent: a new one. */
export interface SecretTarget {
  name: string;
  expires_at: number | null;
}

export interface SecretSetScreenProps {
  replace?: SecretTarget | undefined;
  active: boolean;
  notify(text: string, tone?: Tone): void;
  /** The name stored, or null when nothing was. */
  onDone(stored: string | null): void;
}

type Step = 'name' | 'value' | 'expiry' | 'saving';

/**
 * Add a secret, or replace one's value: name, the value (masked: it never reaches a frame),
 * then an optional lifetime. The value goes to the agent as bytes, wiped once sent.
 */
export function SecretSetScreen({ replace, active, notify, onDone }: SecretSetScreenProps) {
  const { session, now } = useDeps();
  const [step, setStep] = useState<Step>(replace ? 'value' : 'name');
  const [name, setName] = useState(replace?.name ?? '');
  const [value, setValue] = useState('');
  const [expiresIn, setExpiresIn] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  useKeyCapture(active && step !== 'saving');

  const go = (to: Step | null) => {
    setProblem(null);
    if (to === null) onDone(null);
    else setStep(to);
  };

  const save = async (seconds: number | undefined) => {
    setProblem(null);
    setStep('saving');
    const expiresAt = seconds === undefined ? undefined : Math.floor(now() / 1000) + seconds;
    // Bytes on the wire, wiped once sent; the typed string itself cannot be wiped in JS.
    const bytes = Buffer.from(value, 'utf8');
    try {
      const r = await session.call('set_secret', { name, value: bytes, overwrite: !!replace, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}) });
      setValue('');
      notify(`${r.created ? 'Stored' : 'Replaced'} ${name}.${expiresAt !== undefined ? ` It expires ${when(expiresAt)}.` : ''}`, 'ok');
      onDone(name);
    } catch (err) {
      const e = err as SigilError;
      if (e.code === ErrorCode.ALREADY_EXISTS) {
        setProblem(`${e.message}: to change its value, select it in the list and press e`);
        setStep('name');
      } else {
        setProblem(e.message);
        setStep('expiry');
      }
    } finally {
      bytes.fill(0);
    }
  };

  let body;
  if (step === 'name') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Name: "
          value={name}
          onChange={setName}
          focus={active}
          placeholder="e.g. openai/api-key, db/prod/password"
          onCancel={() => go(null)}
          onSubmit={(v) => {
            const n = v.trim();
            if (!n) return setProblem('The secret needs a name.');
            try {
              checkSecretName(n);
            } catch (err) {
              return setProblem((err as Error).message);
            }
            setName(n);
            go('value');
          }}
        />
        <Text color="gray">{`Letters, digits and . _ @ + -, "/" between parts; read it as secret://NAME.`}</Text>
      </Box>
    );
  } else if (step === 'value') {
    body = (
      <Box flexDirection="column">
        <TextField
          label="Value: "
          value={value}
          onChange={setValue}
          mask
          focus={active}
          onCancel={() => go(replace ? null : 'name')}
          onSubmit={(v) => {
            if (!v) return setProblem('The value is empty.');
            go('expiry');
          }}
        />
        <Text color="gray">{replace ? 'The current value is kept as a previous version (h in the list).' : 'Masked; a paste works. Multi-line or binary: sigil secret set NAME --stdin'}</Text>
      </Box>
    );
  } else if (step === 'expiry') {
    const current = replace?.expires_at;
    body = (
      <ExpiresInField
        value={expiresIn}
        onChange={setExpiresIn}
        focus={active}
        onCancel={() => go('value')}
        onProblem={setProblem}
        onSubmit={(seconds) => void save(seconds)}
        hint={current !== null && current !== undefined ? `Now it expires ${when(current)}; empty: the new value does not.` : undefined}
      />
    );
  } else {
    body = <Spinner label={`Storing ${name}…`} />;
  }

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>{replace ? `Replace the value of ${replace.name}` : 'Add a secret'}</Text>
      {step !== 'name' ? <Text color="gray">{name}</Text> : null}
      <Box marginTop={1} flexDirection="column">
        {body}
      </Box>
      {problem ? <Text color="red">{problem}</Text> : null}
      {step !== 'saving' ? <Text color="gray">Enter next · Esc back</Text> : null}
    </Box>
  );
}
