import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { call } from '../agent.js';
import { info, secretValue } from '../output.js';

/**
 * `sigil age-key`: an age X25519 identity kept in the vault as the secret `age/identity`,
 * printed for SOPS (`export SOPS_AGE_KEY_CMD="sigil age-key"`) or `age -d -i <(sigil age-key)`.
 * `--generate` creates it (never replaces one); `--recipient` prints its public `age1…` key.
 */
export const AGE_IDENTITY_SECRET = 'age/identity';

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

export async function ageKey(opts: { generate?: boolean; recipient?: boolean }): Promise<void> {
  if (opts.generate) {
    const identity = await generateX25519Identity();
    // overwrite: false makes the agent refuse atomically when one exists (ALREADY_EXISTS).
    await call('set_secret', { name: AGE_IDENTITY_SECRET, value: identity, overwrite: false }).catch((err: unknown) => {
      if (err instanceof SigilError && err.code === ErrorCode.ALREADY_EXISTS) {
        throw new SigilError(ErrorCode.ALREADY_EXISTS, `an age identity already exists (secret ${AGE_IDENTITY_SECRET}); its recipient: sigil age-key --recipient`);
      }
      throw err;
    });
    const recipient = await identityToRecipient(identity);
    info(`Created an age identity in the vault (secret ${AGE_IDENTITY_SECRET}). Its recipient:`);
    process.stdout.write(recipient + '\n');
    return;
  }
  const identity = await storedIdentity();
  if (opts.recipient) {
    process.stdout.write((await identityToRecipient(identity)) + '\n');
    return;
  }
  process.stdout.write(identity + '\n');
}
