import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, integerArg, numberArg, stringArg, wireValue, type Args } from '../../protocol/messages.js';
import { checkSecretName, credentialKey } from '../../protocol/names.js';
import { formatRef, parseRef } from '../../protocol/refs.js';
import type { OpHandlers } from '../op-table.js';
import { resolveVals } from '../refs/vals-refs.js';
import { unixSeconds } from '../../util/unix-time.js';

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

export const secretOps = {
  get_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      return { name, value: reveal(await state.secrets.get(name)) };
    },
  },

  set_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const value = bytesArg(args, 'value');
      try {
        // Unix seconds; absent: the value does not expire.
        const expiresAt = integerArg(args, 'expires_at', { min: 1 });
        const { created } = await state.secrets.set(name, value, { overwrite: args.overwrite !== false, ...(expiresAt !== undefined ? { expiresAt } : {}) });
        return { name, created };
      } finally {
        value.fill(0);
      }
    },
  },

  delete_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      await state.secrets.delete(name);
      return { name, deleted: true };
    },
  },

  list_secrets: {
    async run({ state }, args) {
      const prefix = stringArg(args, 'prefix', { optional: true }) ?? '';
      const names = await state.secrets.list(prefix);
      // Expiries of the names listed only (a record may outlive its value after a crash).
      const expiries = await state.secrets.expiries(prefix);
      const versions = await state.secrets.versionCounts(prefix);
      const listed = new Set(names);
      const ofListed = (m: Map<string, number>) => Object.fromEntries([...m].filter(([n]) => listed.has(n)));
      return { names, expires_at: ofListed(expiries), versions: ofListed(versions) };
    },
  },

  /** The kept versions of a secret, newest first: numbers and times, never values. */
  secret_history: {
    async run({ state }, args) {
      const name = nameArg(args);
      const { currentUpdated, versions } = await state.secrets.history(name);
      const wire = versions.map((v) => ({ version: v.version, replaced_at: unixSeconds(v.replaced_at) }));
      const updated = currentUpdated === undefined ? null : unixSeconds(currentUpdated);
      return { name, ...(updated !== null ? { current_updated: updated } : {}), versions: wire };
    },
  },

  /** Makes a kept version current again; the value it replaces is kept (saved_as). */
  rollback_secret: {
    async run({ state }, args) {
      const name = nameArg(args);
      const version = versionArg(args);
      const { savedAs } = await state.secrets.rollback(name, version);
      return { name, version, ...(savedAs !== null ? { saved_as: savedAs } : {}) };
    },
  },

  resolve: {
    async run({ state }, args) {
      const ref = parseRef(stringArg(args, 'ref'));
      if (ref.scheme === 'secret') return { ref: formatRef(ref), value: reveal(await state.secrets.get(ref.name)) };
      if (ref.scheme === 'vals') return { ref: formatRef(ref), value: reveal(await resolveVals(ref, { store: state.lock.requireStore() })) };
      const { registry, tokens } = state.credentials;
      if (ref.credential === 'access_token') {
        const token = await tokens.getToken(ref.service, ref.account);
        return { ref: formatRef(ref), value: token.access_token, expires_at: token.expires_at };
      }
      const meta = registry.require(ref.service, ref.account);
      // An OAuth account's tokens are this device's sign-in (device.age in a synced vault).
      const signIn = meta.kind === 'oauth' && /^(access|refresh|id)_token$/.test(ref.credential);
      const store = signIn ? state.lock.requireDeviceStore() : state.lock.requireStore();
      const value = await store.get(credentialKey(ref.service, ref.account, ref.credential));
      if (!value) throw new SigilError(ErrorCode.NOT_FOUND, `${ref.service}/${ref.account} has no ${ref.credential}`);
      return { ref: formatRef(ref), value: reveal(value) };
    },
  },
} satisfies OpHandlers;
