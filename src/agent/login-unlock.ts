import { ErrorCode } from '../protocol/codes.js';
import { SigilError, toSigilError } from '../protocol/errors.js';
import { recallPassphrase, rememberPassphrase, unlockAtLoginEnabled } from '../stores/remembered-passphrase.js';
import { KEYRING_TARGET } from '../protocol/op-catalog.js';
import type { AgentState } from './agent-state.js';
import type { Caller } from './caller/caller.js';

/**
 * Unlock at login, on the agent's side: unlocking with the passphrase kept in the OS keyring
 * (on request, and once at start), and remembering one. The keyring parts live in
 * src/stores/remembered-passphrase.ts; this is where the lock state and the audit meet them.
 */

/** Who asked, for audit lines written outside the dispatcher. */
export interface Requester {
  caller?: Caller | null;
  client?: string | undefined;
}

/** `unlock {}`: unlocks with the remembered passphrase; false when it was unlocked already. */
export async function unlockFromKeyring(state: AgentState): Promise<boolean> {
  if (!state.lock.locked) return false;
  const passphrase = await recallPassphrase(state.paths);
  try {
    await state.lock.unlock(passphrase, { fromKeyring: true });
    return true;
  } catch (err) {
    if (err instanceof SigilError && err.code === ErrorCode.BAD_PASSPHRASE) {
      throw new SigilError(
        ErrorCode.BAD_PASSPHRASE,
        'the passphrase remembered in the OS keyring no longer opens the vault (changed by sigil passwd elsewhere?) — run: sigil unlock --remember',
        { cause: err },
      );
    }
    throw err;
  } finally {
    passphrase.fill(0);
  }
}

/**
 * Stores a passphrase the agent has verified. A failure is an answer, not an error: the
 * unlock that came with it stands.
 */
export async function rememberVerified(
  state: AgentState,
  passphrase: Buffer,
  who: Requester,
): Promise<{ remembered: true } | { remembered: false; remember_error: string }> {
  try {
    await rememberPassphrase(state.paths, passphrase);
  } catch (err) {
    const e = toSigilError(err, 'could not remember the passphrase');
    auditRemember(state, e.code, who);
    state.log(`could not remember the passphrase: ${e.message}`);
    return { remembered: false, remember_error: e.message };
  }
  auditRemember(state, 'ok', who);
  return { remembered: true };
}

export function auditRemember(state: AgentState, result: string, who: Requester): void {
  state.audit.record({ op: 'remember_passphrase', target: KEYRING_TARGET, result, caller: who.caller ?? null, client: who.client });
}

/**
 * At start, when the person opted in: one attempt in the background (the socket is already
 * answering). Whatever goes wrong — keyring locked or missing, a stale passphrase — the
 * agent stays locked and says why once; `sigil unlock` still asks as usual.
 */
export function unlockAtStart(state: AgentState, warn: (msg: string) => void): Promise<void> {
  if (!unlockAtLoginEnabled(state.paths)) return Promise.resolve();
  return unlockFromKeyring(state).then(
    (unlocked) => {
      if (!unlocked) return; // someone typed the passphrase first
      state.audit.record({ op: 'unlock', target: KEYRING_TARGET, result: 'ok', client: 'sigil-agent' });
      state.log('unlocked with the passphrase remembered in the OS keyring');
    },
    (err: unknown) => {
      const e = toSigilError(err, 'internal error unlocking from the OS keyring');
      state.audit.record({ op: 'unlock', target: KEYRING_TARGET, result: e.code, client: 'sigil-agent' });
      warn(`could not unlock from the OS keyring, staying locked: ${e.message}`);
    },
  );
}
