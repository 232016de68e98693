import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, numberArg, stringArg, wireValue, type Args } from '../../protocol/messages.js';
import { checkSecretName, credentialKey, SECRET_PREFIX, secretKey } from '../../protocol/names.js';
import { formatRef, parseRef } from '../../protocol/refs.js';
import type { OpHandlers } from '../op-table.js';
import { unixSeconds } from '../../util/unix-time.js';
import { deleteHistory, listHistory, readVersion, replaceSecret, serialized } from '../secret-history.js';

function versionArg(args: Args): number {
  const v = numberArg(args, 'version');
  if (v === undefined) throw new SigilError(ErrorCode.BAD_REQUEST, 'missing argument "version"');
  if (!Number.isSafeInteger(v) || v < 1) throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "version" must be a whole number from 1');
  return v;
}

function nameArg(args: Args): string {
  return checkSecretName(stringArg(args, 'name'));
}

/** Values leave the agent as text when they are text, else as the bytes they are (bin). */
function reveal(value: Buffer): string | Buffer {
  const out = wireValue(value);
  // A string is a copy, so the store's copy can go; bytes are encoded into the frame later.
  if (typeof out === 'string') value.fill(0);
  return out;
}

function noSuchSecret(name: string): SigilError {
  return new SigilError(ErrorCode.NOT_FOUND, `no secret named "${name}"`);
}

export const secretOps: OpHandlers = {
  get_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const value = await state.requireStore().get(secretKey(name));
      if (!value) throw noSuchSecret(name);
      return { name, value: reveal(value) };
    },
  },

  set_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const value = bytesArg(args, 'value');
      try {
        const store = state.requireStore();
        // One change to a secret and its history at a time: versions are numbered in order.
        return await serialized(store, name, async () => {
          if (args.overwrite === false && (await store.get(secretKey(name)))?.fill(0) !== undefined) {
            throw new SigilError(ErrorCode.ALREADY_EXISTS, `secret "${name}" already exists`);
          }
          // The replaced value is kept as history (durably) before the new one is written.
          const { existed } = await replaceSecret(store, name, value, state.secretHistory);
          return { name, created: !existed };
        });
      } finally {
        value.fill(0);
      }
    },
  },

  delete_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const store = state.requireStore();
      return serialized(store, name, async () => {
        const existed = await store.delete(secretKey(name));
        // The history goes with the secret (also history left behind by an interrupted delete).
        const versions = await deleteHistory(store, name);
        if (!existed && versions === 0) throw noSuchSecret(name);
        return { name, deleted: true };
      });
    },
  },

  list_secrets: {
    async run({ state }, args) {
      const prefix = stringArg(args, 'prefix', { optional: true }) ?? '';
      const keys = await state.requireStore().list(SECRET_PREFIX + prefix);
      return { names: keys.map((k) => k.slice(SECRET_PREFIX.length)) };
    },
  },

  /** The kept versions of a secret, newest first: numbers and times, never values. */
  secret_history: {
    async run({ state }, args) {
      const name = nameArg(args);
      const store = state.requireStore();
      const current = await store.get(secretKey(name));
      current?.fill(0);
      const versions = await listHistory(store, name);
      if (current === null && versions.length === 0) throw noSuchSecret(name);
      // The newest kept version was replaced by the value that is current now, at that time.
      const updated = current !== null ? versions[0]?.replaced_at : undefined;
      const wire = versions.map((v) => ({ version: v.version, replaced_at: unixSeconds(v.replaced_at) }));
      return { name, ...(updated ? { current_updated: unixSeconds(updated) } : {}), versions: wire };
    },
  },

  /**
   * Makes a kept version current again. The value it replaces is kept as the next version
   * first, so a rollback can itself be rolled back.
   */
  rollback_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const version = versionArg(args);
      const store = state.requireStore();
      return serialized(store, name, async () => {
        const record = await readVersion(store, name, version);
        if (!record) {
          throw new SigilError(ErrorCode.NOT_FOUND, `secret "${name}" has no version ${version} (see: sigil secret history ${name})`);
        }
        try {
          const { savedAs } = await replaceSecret(store, name, record.value, state.secretHistory);
          return { name, version, ...(savedAs !== null ? { saved_as: savedAs } : {}) };
        } finally {
          record.value.fill(0);
        }
      });
    },
  },

  resolve: {
    async run({ state }, args) {
      const ref = parseRef(stringArg(args, 'ref'));
      if (ref.scheme === 'secret') {
        const value = await state.requireStore().get(secretKey(ref.name));
        if (!value) throw noSuchSecret(ref.name);
        return { ref: formatRef(ref), value: reveal(value) };
      }
      if (ref.credential === 'access_token') {
        const token = await state.tokens.getToken(ref.service, ref.account);
        return { ref: formatRef(ref), value: token.access_token, expires_at: token.expires_at };
      }
      state.registry.require(ref.service, ref.account);
      const value = await state.requireStore().get(credentialKey(ref.service, ref.account, ref.credential));
      if (!value) throw new SigilError(ErrorCode.NOT_FOUND, `${ref.service}/${ref.account} has no ${ref.credential}`);
      return { ref: formatRef(ref), value: reveal(value) };
    },
  },
};
