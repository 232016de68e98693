import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { AGE_IDENTITY_SECRET } from '../../protocol/names.js';
import { IDENTITY_LINE } from '../../stores/vault-store.js';
import { call } from '../agent.js';
import { info, secretValue } from '../output.js';
import { readSecret } from '../secret-input.js';

/**
 * `sigil age-key`: an age X25519 identity kept in the vault as the secret `age/identity`,
 * printed for SOPS (`export SOPS_AGE_KEY_CMD="sigil age-key"`) or `age -d -i <(sigil age-key)`.
 * `--generate` creates it, `--import` adopts one from stdin (an existing sops keys.txt):
 * neither replaces one. `--recipient` prints its public `age1…` key. The identity also opens
 * the `[[storage.sops]]` files encrypted to it.
 */
export { AGE_IDENTITY_SECRET };

async function storedIdentity(): Promise<string> {
  try {
    const r = await call('get_secret', { name: AGE_IDENTITY_SECRET });
    // An identity is ASCII text; bytes that are not text fail as an invalid identity below.
    return Buffer.from(secretValue(r.value)).toString('utf8').trim();
  } catch (err) {
    if (err instanceof SigilError && err.code === ErrorCode.NOT_FOUND) {
      throw new SigilError(ErrorCode.NOT_FOUND, `no age identity in the vault (secret ${AGE_IDENTITY_SECRET}): create one with: sigil age-key --generate`);
    }
    throw err;
  }
}

/** Stores `identity` unless one exists, then prints its recipient. */
async function keep(identity: string, done: string): Promise<void> {
  // overwrite: false makes the agent refuse atomically when one exists (ALREADY_EXISTS).
  await call('set_secret', { name: AGE_IDENTITY_SECRET, value: identity, overwrite: false }).catch((err: unknown) => {
    if (err instanceof SigilError && err.code === ErrorCode.ALREADY_EXISTS) {
      throw new SigilError(ErrorCode.ALREADY_EXISTS, `an age identity already exists (secret ${AGE_IDENTITY_SECRET}); its recipient: sigil age-key --recipient`);
    }
    throw err;
  });
  const recipient = await identityToRecipient(identity);
  info(`${done} (secret ${AGE_IDENTITY_SECRET}). Its recipient:`);
  process.stdout.write(recipient + '\n');
}

/** The one identity in an age-keygen style file on stdin; the message never quotes it. */
async function identityFromStdin(): Promise<string> {
  const text = await readSecret('', { stdin: true });
  const found = text
    .toString('latin1')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => IDENTITY_LINE.test(l));
  text.fill(0);
  if (found.length !== 1) {
    throw new SigilError(
      ErrorCode.BAD_REQUEST,
      found.length === 0
        ? 'stdin holds no AGE-SECRET-KEY-1… line: pipe in an age key file, such as sops keys.txt'
        : `stdin holds ${found.length} age identities: import one (copy its lines to a file of their own)`,
    );
  }
  await identityToRecipient(found[0]!).catch(() => {
    throw new SigilError(ErrorCode.BAD_REQUEST, 'the AGE-SECRET-KEY-1… line on stdin is not a valid age identity');
  });
  return found[0]!;
}

export async function ageKey(opts: { generate?: boolean; import?: boolean; recipient?: boolean }): Promise<void> {
  if (opts.generate && opts.import) throw new SigilError(ErrorCode.BAD_REQUEST, '--generate and --import exclude each other');
  // X25519 explicitly: age 1.1.1 and sops read it (a post-quantum default one day would not be).
  if (opts.generate) return keep(await generateX25519Identity(), 'Created an age identity in the vault');
  if (opts.import) return keep(await identityFromStdin(), 'Adopted the age identity from stdin into the vault');
  const identity = await storedIdentity();
  if (opts.recipient) {
    process.stdout.write((await identityToRecipient(identity)) + '\n');
    return;
  }
  process.stdout.write(identity + '\n');
}
