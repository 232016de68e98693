import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { changePassphrase, createVault } from '../../stores/vault-store.js';
import { sigilPaths } from '../../util/paths.js';
import { call } from '../agent.js';
import { info } from '../output.js';
import { readNewSecret, readSecret } from '../secret-input.js';

export interface PassOpts {
  passphraseStdin?: boolean;
  scryptWorkFactor?: string;
}

function workFactor(opts: PassOpts): number | undefined {
  if (opts.scryptWorkFactor === undefined) return undefined;
  const n = Number(opts.scryptWorkFactor);
  if (!Number.isInteger(n) || n < 1 || n > 22) throw new SigilError(ErrorCode.BAD_REQUEST, '--scrypt-work-factor must be an integer from 1 to 22');
  return n;
}

export async function init(opts: PassOpts): Promise<void> {
  const paths = sigilPaths();
  const pass = await readNewSecret('New vault passphrase: ', { stdin: !!opts.passphraseStdin });
  try {
    const wf = workFactor(opts);
    await createVault(paths, pass, wf === undefined ? {} : { workFactor: wf });
  } finally {
    pass.fill(0);
  }
  info(`Created the vault at ${paths.vault}\nNext: sigil unlock`);
}

export async function unlock(opts: PassOpts): Promise<void> {
  const status = await call<{ locked: boolean }>('status');
  if (!status.locked) {
    info('The agent is already unlocked.');
    return;
  }
  const pass = await readSecret('Vault passphrase: ', { stdin: !!opts.passphraseStdin });
  try {
    await call('unlock', { passphrase: pass });
  } finally {
    pass.fill(0);
  }
  info('Unlocked.');
}

export async function lock(): Promise<void> {
  const r = await call<{ was_locked: boolean }>('lock');
  info(r.was_locked ? 'The agent was already locked.' : 'Locked.');
}

export async function passwd(opts: PassOpts): Promise<void> {
  const paths = sigilPaths();
  const stdin = !!opts.passphraseStdin;
  const old = await readSecret('Current passphrase: ', { stdin, line: true });
  let next: Buffer | null = null;
  try {
    next = await readNewSecret('New passphrase: ', { stdin, line: true });
    const wf = workFactor(opts);
    await changePassphrase(paths, old, next, wf === undefined ? {} : { workFactor: wf });
  } finally {
    old.fill(0);
    next?.fill(0);
  }
  info('Passphrase changed. The vault itself was not re-encrypted (it is encrypted to a key, not the passphrase).');
}
