import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import type { UnlockAnswer } from '../../protocol/results.js';
import { unlockAtLoginEnabled } from '../../stores/remembered-passphrase.js';
import { changePassphrase, createVault } from '../../stores/vault-store.js';
import { sigilPaths, type SigilPaths } from '../../util/paths.js';
import { call } from '../agent.js';
import { info } from '../output.js';
import { readNewSecret, readSecret, type InputSource } from '../secret-input.js';

export interface PassOpts {
  passphraseStdin?: boolean;
  scryptWorkFactor?: string;
}

/**
 * A passphrase from stdin is one line (without its "\n" or "\r\n"), whatever follows: what
 * `pass show` prints and what age's prompt can type back; passwd reads the old, then the new.
 * Values (--stdin elsewhere) stay whole.
 */
function passphraseSource(opts: PassOpts): InputSource {
  return { stdin: !!opts.passphraseStdin, line: true };
}

export function workFactor(opts: PassOpts): number | undefined {
  if (opts.scryptWorkFactor === undefined) return undefined;
  const n = Number(opts.scryptWorkFactor);
  if (!Number.isInteger(n) || n < 1 || n > 22) throw new SigilError(ErrorCode.BAD_REQUEST, '--scrypt-work-factor must be an integer from 1 to 22');
  return n;
}

export async function init(opts: PassOpts): Promise<void> {
  const paths = sigilPaths();
  const pass = await readNewSecret('New vault passphrase: ', passphraseSource(opts));
  try {
    const wf = workFactor(opts);
    await createVault(paths, pass, wf === undefined ? {} : { workFactor: wf });
  } finally {
    pass.fill(0);
  }
  info(`Created the vault at ${paths.vault}\nNext: sigil unlock`);
}

export interface UnlockOpts extends PassOpts {
  remember?: boolean;
  forget?: boolean;
}

const REMEMBERED = 'the passphrase is remembered in the OS keyring: the agent will unlock itself at start.';

export async function unlock(opts: UnlockOpts): Promise<void> {
  if (opts.remember && opts.forget) throw new SigilError(ErrorCode.BAD_REQUEST, '--remember and --forget cannot be used together');
  if (opts.forget) return forget();
  const status = await call('status');
  // Before asking for a passphrase that could not be used.
  if (status.vault === false) throw new SigilError(ErrorCode.NOT_FOUND, `no vault at ${status.vault_path} — run: sigil init`);
  if (opts.remember) return unlockAndRemember(opts);
  if (!status.locked) {
    info('The agent is already unlocked.');
    return;
  }
  if (status.unlock_at_login) {
    try {
      await call('unlock', {});
      info('Unlocked with the passphrase remembered in the OS keyring.');
      return;
    } catch (err) {
      if (!(err instanceof SigilError) || err.code === ErrorCode.NO_AGENT) throw err;
      info(`Could not unlock from the OS keyring (${err.message}); asking for the passphrase.`);
    }
  }
  await withPassphrase(opts, (passphrase) => call('unlock', { passphrase }));
  info('Unlocked.');
}

/** Also when the agent is unlocked already: the agent checks the passphrase against the vault first. */
async function unlockAndRemember(opts: UnlockOpts): Promise<void> {
  const r = await withPassphrase(opts, (passphrase) => call('unlock', { passphrase, remember: true }));
  if (r.remembered !== true) {
    throw new SigilError(ErrorCode.INTERNAL, `Unlocked, but the passphrase could not be remembered: ${r.remember_error ?? 'no reason given'}`);
  }
  info(`Unlocked; ${REMEMBERED}`);
}

async function forget(): Promise<void> {
  const r = await call('forget_passphrase');
  info(
    r.forgotten
      ? 'Forgotten: the passphrase is removed from the OS keyring; the agent will no longer unlock itself at start.'
      : 'No passphrase was remembered for this vault.',
  );
}

async function withPassphrase<T>(opts: PassOpts, use: (passphrase: Buffer) => Promise<T>): Promise<T> {
  const passphrase = await readSecret('Vault passphrase: ', passphraseSource(opts));
  try {
    return await use(passphrase);
  } finally {
    passphrase.fill(0);
  }
}

export async function lock(): Promise<void> {
  const r = await call('lock');
  info(r.was_locked ? 'The agent was already locked.' : 'Locked.');
}

export async function passwd(opts: PassOpts): Promise<void> {
  const paths = sigilPaths();
  const src = passphraseSource(opts);
  const old = await readSecret('Current passphrase: ', src);
  let next: Buffer | null = null;
  try {
    next = await readNewSecret('New passphrase: ', src);
    await changeThroughAgent(paths, old, next, workFactor(opts));
    info('Passphrase changed. The vault itself was not re-encrypted (it is encrypted to a key, not the passphrase).');
    if (unlockAtLoginEnabled(paths)) await rememberNew(next);
  } finally {
    old.fill(0);
    next?.fill(0);
  }
}

/** sigil rekey: the agent makes a new vault identity; prints its recipient (age1…). */
export async function rekey(opts: PassOpts): Promise<void> {
  const pass = await readSecret('Vault passphrase: ', passphraseSource(opts));
  try {
    const { recipient } = await call('rekey', { passphrase: pass });
    process.stdout.write(`${recipient}\n`);
    info('The vault has a new key; identity files from before no longer open what is written from now on.');
  } finally {
    pass.fill(0);
  }
}

/**
 * The agent makes the change when one runs (so it is throttled like an unlock and audited);
 * without one, the command makes it and writes the audit line itself (no agent shares the log).
 */
async function changeThroughAgent(paths: SigilPaths, old: Buffer, next: Buffer, wf: number | undefined): Promise<void> {
  try {
    await call('passwd', { passphrase: old, new_passphrase: next, ...(wf === undefined ? {} : { work_factor: wf }) });
    return;
  } catch (err) {
    if (!(err instanceof SigilError) || err.code !== ErrorCode.NO_AGENT) throw err;
  }
  let result = 'ok';
  try {
    await changePassphrase(paths, old, next, wf === undefined ? {} : { workFactor: wf });
  } catch (err) {
    result = err instanceof SigilError ? err.code : ErrorCode.INTERNAL;
    throw err;
  } finally {
    const { AuditLog } = await import('../../agent/audit-log.js');
    const log = new AuditLog(paths.audit);
    log.record({ op: 'passwd', result, caller: { peer: { pid: process.pid, uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 }, chain: [] }, client: 'sigil' });
    await log.close();
  }
}

/** The keyring still holds the old passphrase: the agent checks the new one against identity.age and keeps it. */
async function rememberNew(passphrase: Buffer): Promise<void> {
  const stale = 'the OS keyring still holds the old passphrase, so the agent will not unlock itself at start; once an agent runs: sigil unlock --remember';
  let r: UnlockAnswer;
  try {
    r = await call('unlock', { passphrase, remember: true });
  } catch (err) {
    if (!(err instanceof SigilError)) throw err;
    throw new SigilError(err.code, `${err.message}\n${stale}`, { cause: err });
  }
  if (r.remembered !== true) throw new SigilError(ErrorCode.INTERNAL, `${r.remember_error ?? 'the OS keyring failed'}\n${stale}`);
  info(`The agent is unlocked and ${REMEMBERED}`);
}
