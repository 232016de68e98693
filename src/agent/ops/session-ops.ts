import { existsSync } from 'node:fs';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { booleanArg, bytesArg, integerArg, PROTOCOL_VERSIONS, stringArg } from '../../protocol/messages.js';
import { forgetPassphrase, unlockAtLoginEnabled } from '../../stores/remembered-passphrase.js';
import { unixSecondsMs } from '../../util/unix-time.js';
import { VERSION } from '../../version.js';
import { AUDIT_MAX_LIMIT } from '../../protocol/results.js';
import { readAuditTail } from '../audit-reader.js';
import { peerCredSupported } from '../../util/peer-cred.js';
import { unlocksFromKeyring } from '../../protocol/op-catalog.js';
import { auditRemember, rememberVerified, unlockFromKeyring } from '../login-unlock.js';
import type { OpHandlers } from '../op-table.js';

export const sessionOps = {
  hello: {
    run(ctx, args) {
      const client = stringArg(args, 'client', { optional: true });
      if (client !== undefined) ctx.setClient(checkClientName(client));
      const offered = Array.isArray(args.versions) ? args.versions.filter((v): v is number => typeof v === 'number') : [1];
      const common = PROTOCOL_VERSIONS.filter((v) => offered.includes(v));
      if (common.length === 0) {
        throw new SigilError(ErrorCode.UNSUPPORTED_VERSION, `no protocol version in common: client speaks ${offered.join(', ') || 'none'}, agent speaks ${PROTOCOL_VERSIONS.join(', ')}`);
      }
      return { version: Math.max(...common), agent: `sigilforge ${VERSION}`, pid: process.pid };
    },
  },

  status: {
    async run({ state, caller: { forwarded } }) {
      const locksIn = state.lock.locksIn();
      return {
        locked: state.lock.locked,
        // One stat: whether there is anything to unlock (sigil unlock says so before asking).
        vault: existsSync(state.paths.vault),
        // Local paths are no business of a caller on another machine: it is told where it comes from.
        ...(forwarded ? { forwarded: forwarded.host } : { vault_path: state.paths.vault, socket: state.socketPath }),
        pid: process.pid,
        version: VERSION,
        lock_timeout_s: state.lock.timeoutSeconds,
        locks_in_s: locksIn === null ? null : Math.ceil(locksIn),
        accounts: state.credentials.registry.size,
        secrets: await state.secrets.count(),
        // sigil status and the TUI warn a week ahead (sigil secret list says which).
        secrets_expiring: await state.secrets.expiring(7 * 86400),
        uptime_s: Math.floor((state.clock.now() - state.startedAt) / 1000),
        peer_check: peerCredSupported(),
        failed_unlocks: state.lock.failedUnlocks,
        // The marker file only: no D-Bus here, this is polled.
        unlock_at_login: unlockAtLoginEnabled(state.paths),
        sync: forwarded || !state.sync.enabled ? null : await state.sync.info(),
      };
    },
  },

  lock: {
    async run({ state }) {
      return { was_locked: !(await state.lock.lock('request')) };
    },
  },

  // With `passphrase`: as typed (and `remember`: verified, then kept in the OS keyring).
  // Without: the passphrase remembered in the OS keyring.
  unlock: {
    async run({ state, caller, client }, args) {
      const remember = booleanArg(args, 'remember') ?? false;
      const wasLocked = state.lock.locked;
      if (unlocksFromKeyring(args)) {
        if (remember) throw new SigilError(ErrorCode.BAD_REQUEST, '"remember" needs the "passphrase" to remember');
        await unlockFromKeyring(state);
        return { was_locked: wasLocked };
      }
      const passphrase = bytesArg(args, 'passphrase');
      try {
        try {
          // Never store a passphrase the vault has not just accepted, even when unlocked already.
          await state.lock.unlock(passphrase, { verify: remember });
        } catch (err) {
          if (remember) auditRemember(state, err instanceof SigilError ? err.code : ErrorCode.INTERNAL, { caller, client });
          throw err;
        }
        if (!remember) return { was_locked: wasLocked };
        return { was_locked: wasLocked, ...(await rememberVerified(state, passphrase, { caller, client })) };
      } finally {
        passphrase.fill(0);
      }
    },
  },

  forget_passphrase: {
    async run({ state }) {
      return { forgotten: await forgetPassphrase(state.paths) };
    },
  },

  // The vault's passphrase changes; the vault itself is not re-encrypted (it is sealed to a key).
  passwd: {
    async run({ state }, args) {
      const old = bytesArg(args, 'passphrase');
      const next = bytesArg(args, 'new_passphrase');
      try {
        const workFactor = integerArg(args, 'work_factor', { min: 1, max: 22 });
        await state.lock.changePassphrase(old, next, workFactor === undefined ? {} : { workFactor });
        return { changed: true };
      } finally {
        old.fill(0);
        next.fill(0);
      }
    },
  },

  // A new vault identity: the vault re-encrypted to it, identity.age replaced (same passphrase).
  rekey: {
    async run({ state }, args) {
      const passphrase = bytesArg(args, 'passphrase');
      try {
        return { recipient: await state.lock.rekey(passphrase) };
      } finally {
        passphrase.fill(0);
      }
    },
  },

  audit_tail: {
    async run({ state }, args) {
      await state.audit.flush();
      const limit = integerArg(args, 'limit', { min: 1, max: AUDIT_MAX_LIMIT }) ?? 50;
      const after = integerArg(args, 'after', { min: 0 });
      const before = integerArg(args, 'before', { min: 0 });
      if (after !== undefined && before !== undefined) throw new SigilError(ErrorCode.BAD_REQUEST, 'give "after" (newer lines) or "before" (older lines), not both');
      const page = readAuditTail(state.paths.audit, { limit, ...(after !== undefined ? { after } : {}), ...(before !== undefined ? { before } : {}) });
      // The log's ISO times go out as Unix seconds, as every time in a result does.
      for (const e of page.entries) if (typeof e.time === 'string') e.time = unixSecondsMs(e.time) ?? e.time;
      return { ...page };
    },
  },
} satisfies OpHandlers;

/**
 * The client name goes into every audit line of the connection and onto screens (sigil audit,
 * the TUI): a short word of printable ASCII, so no client can forge lines or send escapes.
 */
const CLIENT_NAME = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;

function checkClientName(name: string): string {
  if (!CLIENT_NAME.test(name)) throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "client" must be 1 to 64 printable ASCII characters');
  return name;
}
