import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { bytesArg, stringArg, type Args } from '../../protocol/messages.js';
import { checkSecretName, credentialKey, SECRET_PREFIX, secretKey } from '../../protocol/names.js';
import { formatRef, parseRef } from '../../protocol/refs.js';
import { str, type OpTable } from '../op-table.js';

const secretTarget = (args: Args) => {
  const n = str(args, 'name');
  return n === undefined ? undefined : `secret://${n}`;
};

function nameArg(args: Args): string {
  return checkSecretName(stringArg(args, 'name'));
}

/** Values leave the agent as strings: the protocol's clients print or inject them. */
function reveal(value: Buffer): string {
  const text = value.toString('utf8');
  value.fill(0);
  return text;
}

export const secretOps: OpTable = {
  get_secret: {
    secret: true,
    audit: true,
    target: secretTarget,
    async run({ state }, args) {
      const name = nameArg(args);
      const value = await state.requireStore().get(secretKey(name));
      if (!value) throw new SigilError(ErrorCode.NOT_FOUND, `no secret named "${name}"`);
      return { name, value: reveal(value) };
    },
  },

  set_secret: {
    secret: true,
    audit: true,
    target: secretTarget,
    async run({ state }, args) {
      const name = nameArg(args);
      const value = bytesArg(args, 'value');
      try {
        const store = state.requireStore();
        const existed = (await store.get(secretKey(name)))?.fill(0) !== undefined;
        if (existed && args.overwrite === false) throw new SigilError(ErrorCode.ALREADY_EXISTS, `secret "${name}" already exists`);
        await store.set(secretKey(name), value);
        return { name, created: !existed };
      } finally {
        value.fill(0);
      }
    },
  },

  delete_secret: {
    secret: true,
    audit: true,
    target: secretTarget,
    async run({ state }, args) {
      const name = nameArg(args);
      if (!(await state.requireStore().delete(secretKey(name)))) throw new SigilError(ErrorCode.NOT_FOUND, `no secret named "${name}"`);
      return { name, deleted: true };
    },
  },

  list_secrets: {
    secret: true,
    audit: true,
    target: (args) => str(args, 'prefix'),
    async run({ state }, args) {
      const prefix = stringArg(args, 'prefix', { optional: true }) ?? '';
      const keys = await state.requireStore().list(SECRET_PREFIX + prefix);
      return { names: keys.map((k) => k.slice(SECRET_PREFIX.length)) };
    },
  },

  resolve: {
    secret: true,
    audit: true,
    target: (args) => str(args, 'ref'),
    async run({ state }, args) {
      const ref = parseRef(stringArg(args, 'ref'));
      if (ref.scheme === 'secret') {
        const value = await state.requireStore().get(secretKey(ref.name));
        if (!value) throw new SigilError(ErrorCode.NOT_FOUND, `no secret named "${ref.name}"`);
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
