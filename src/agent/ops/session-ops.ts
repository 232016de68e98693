import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, numberArg, PROTOCOL_VERSIONS } from '../../protocol/messages.js';
import { VERSION } from '../../version.js';
import { readAuditTail } from '../audit-reader.js';
import { peerCredSupported } from '../peer-cred.js';
import type { OpTable } from '../op-table.js';

export const sessionOps: OpTable = {
  hello: {
    secret: false,
    audit: false,
    run(ctx, args) {
      if (typeof args.client === 'string') ctx.setClient(args.client.slice(0, 64));
      const offered = Array.isArray(args.versions) ? args.versions.filter((v): v is number => typeof v === 'number') : [1];
      const common = PROTOCOL_VERSIONS.filter((v) => offered.includes(v));
      if (common.length === 0) {
        throw new SigilError(ErrorCode.UNSUPPORTED_VERSION, `no protocol version in common: client speaks ${offered.join(', ') || 'none'}, agent speaks ${PROTOCOL_VERSIONS.join(', ')}`);
      }
      return { version: Math.max(...common), agent: `sigilforge ${VERSION}`, pid: process.pid };
    },
  },

  // Never touches the idle timer: a status bar polling it must not keep the agent unlocked.
  status: {
    secret: false,
    audit: false,
    async run({ state }) {
      const locksIn = state.idle.locksIn();
      return {
        locked: state.locked,
        pid: process.pid,
        version: VERSION,
        socket: state.socketPath,
        lock_timeout_s: state.idle.timeoutSeconds,
        locks_in_s: locksIn === null ? null : Math.ceil(locksIn),
        accounts: state.registry.size,
        secrets: await state.secretCount(),
        uptime_s: Math.floor((Date.now() - state.startedAt) / 1000),
        peer_check: peerCredSupported(),
        failed_unlocks: state.throttle.failureCount,
      };
    },
  },

  lock: {
    secret: false,
    audit: true,
    async run({ state }) {
      return { was_locked: !(await state.lock('request')) };
    },
  },

  unlock: {
    secret: false,
    audit: true,
    async run({ state }, args) {
      const passphrase = bytesArg(args, 'passphrase');
      try {
        const wasLocked = state.locked;
        await state.unlock(passphrase);
        return { was_locked: wasLocked };
      } finally {
        passphrase.fill(0);
      }
    },
  },

  audit_tail: {
    secret: false,
    audit: false,
    async run({ state }, args) {
      await state.audit.flush();
      const limit = Math.min(Math.max(numberArg(args, 'limit') ?? 50, 1), 10_000);
      const after = numberArg(args, 'after');
      return { ...readAuditTail(state.paths.audit, after === undefined ? { limit } : { limit, after }) };
    },
  },
};
