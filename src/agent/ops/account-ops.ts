import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { stringArg } from '../../protocol/messages.js';
import { accountPrefix } from '../../protocol/names.js';
import { writeAll } from '../../stores/secret-store.js';
import type { AccountInfo, AccountRemoval } from '../../protocol/results.js';
import { PRESETS } from '../../oauth/provider-presets.js';
import type { AccountMeta } from '../credentials/account-registry.js';
import type { AgentState } from '../agent-state.js';
import { writeAccount } from '../credentials/account-writes.js';
import { nowS } from '../clock.js';
import type { OpHandlers } from '../op-table.js';
import { accountStatus } from '../credentials/token-service.js';
import { unixSeconds } from '../../util/unix-time.js';
import { accountArgs } from './token-ops.js';

function describe(state: AgentState, meta: AccountMeta): AccountInfo {
  return {
    service: meta.service,
    account: meta.account,
    kind: meta.kind,
    status: accountStatus(meta, nowS(state.clock)),
    token_type: meta.token_type ?? null,
    expires_at: meta.expires_at ?? null,
    scopes: meta.scopes ?? [],
    created: unixSeconds(meta.created),
    last_used: state.credentials.tokens.lastUsedAt(meta.service, meta.account) ?? null,
  };
}

export const accountOps = {
  list_accounts: {
    run({ state }, args) {
      const service = stringArg(args, 'service', { optional: true });
      const list = state.credentials.registry.list().filter((a) => !service || a.service === service);
      return { accounts: list.map((a) => describe(state, a)) };
    },
  },

  get_account: {
    run({ state }, args) {
      const { service, account } = accountArgs(args);
      return describe(state, state.credentials.registry.require(service, account));
    },
  },

  add_account: {
    async run({ state }, args) {
      const { service, account } = accountArgs(args);
      const kind = stringArg(args, 'kind', { optional: true }) ?? 'static';
      if (kind !== 'static') {
        throw new SigilError(ErrorCode.BAD_REQUEST, `account kind "${kind}" cannot be added directly; OAuth accounts are added by an authorization flow (start_flow)`);
      }
      const meta: AccountMeta = { service, account, kind, created: new Date(state.clock.now()).toISOString() };
      await state.credentials.registry.add(meta);
      return describe(state, meta);
    },
  },

  remove_account: {
    async run({ state }, args) {
      const { service, account } = accountArgs(args);
      const { registry, tokens } = state.credentials;
      const meta = registry.require(service, account);
      const r = meta.kind === 'oauth' && args.revoke !== false ? await tokens.revoke(service, account) : { revoked: false };
      const store = state.lock.requireStore();
      const keys = await store.list(accountPrefix(service, account));
      // A synced vault keeps this device's sign-in apart (device.age): it goes first, it is
      // worthless without the account (and the grant was revoked above).
      const device = state.lock.requireDeviceStore();
      const signIn = device === store ? [] : await device.list(accountPrefix(service, account));
      await writeAll(device, [], signIn);
      // Credentials, then the metadata: a failure of either leaves both as they were.
      await writeAccount(store, { sets: [], deletes: keys }, () => registry.remove(service, account), { undo: true, log: state.log });
      keys.push(...signIn);
      const revocation = r.revoked ? 'revoked' : r.error !== undefined ? 'failed' : r.unsupported ? 'unsupported' : 'none';
      const page = revocation === 'failed' || revocation === 'unsupported' ? revokePage(state, service) : undefined;
      const answer: AccountRemoval = { service, account, removed_credentials: keys.length, revoked: r.revoked, revocation };
      return { ...answer, ...(r.error !== undefined ? { error: r.error } : {}), ...(page ? { revoke_page: page } : {}) };
    },
  },
} satisfies OpHandlers;

/** The preset's page for revoking by hand, while the provider is still the preset's (its endpoints not moved by config.toml). */
function revokePage(state: AgentState, service: string): string | undefined {
  const preset = PRESETS[service];
  if (!preset?.revoke_page) return undefined;
  try {
    return state.credentials.providers.provider(service).token_endpoint === preset.token_endpoint ? preset.revoke_page : undefined;
  } catch {
    return undefined; // no longer configured: nothing to say about it
  }
}
