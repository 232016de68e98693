import { ErrorCode } from '../../protocol/codes.js';
import { inField, SigilError } from '../../protocol/errors.js';
import { booleanArg, bytesArg, stringArg, type Args } from '../../protocol/messages.js';
import { checkService, credentialKey } from '../../protocol/names.js';
import { defaultScopes, type Provider } from '../../oauth/provider-config.js';
import { PRESETS } from '../../oauth/provider-presets.js';
import type { ProviderInfo } from '../../protocol/results.js';
import { appendProvider, readConfigText, refuseExisting } from '../../config/provider-tables.js';
import type { AgentState } from '../agent-state.js';
import type { OpHandlers } from '../op-table.js';

/** The keys add_provider accepts, in the order they are written to config.toml. */
const URL_KEYS = ['issuer', 'authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'revocation_endpoint'] as const;

/** One add_provider at a time per agent: each reads config.toml, checks the name, appends. */
const writing = new WeakMap<AgentState, Promise<unknown>>();

function serialized<T>(state: AgentState, fn: () => Promise<T>): Promise<T> {
  const before = writing.get(state) ?? Promise.resolve();
  const run = before.then(fn, fn);
  writing.set(
    state,
    run.catch(() => {}),
  );
  return run;
}

/** The [providers.NAME] table an add_provider request describes (not yet validated). */
function providerTable(args: Args): Record<string, unknown> {
  const table: Record<string, unknown> = {};
  for (const key of URL_KEYS) {
    const v = stringArg(args, key, { optional: true });
    if (v !== undefined) table[key] = v;
  }
  table.client_id = stringArg(args, 'client_id');
  const scopes = args.scopes;
  if (scopes !== undefined && scopes !== null) {
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && /^[\x21-\x7e]+$/.test(s))) {
      throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "scopes" must be a list of scope names', { field: 'scopes' });
    }
    table.scopes = scopes;
  }
  return table;
}

/**
 * What list_providers can say about a provider's flows without asking it: a discovery
 * provider's are unknown (device: null, discovered: false) until something discovered it.
 */
function endpointsKnown(state: AgentState, p: Provider): Pick<ProviderInfo, 'scopes' | 'discovery' | 'discovered' | 'device'> {
  if (!(p.issuer && !p.token_endpoint)) return { scopes: p.scopes, discovery: false, device: Boolean(p.device_authorization_endpoint) };
  const meta = state.credentials.providers.discovered(p.name);
  if (!meta) return { scopes: p.scopes, discovery: true, discovered: false, device: p.device_authorization_endpoint ? true : null };
  return { scopes: defaultScopes(p, meta), discovery: true, discovered: true, device: Boolean(p.device_authorization_endpoint || meta.device_authorization_endpoint) };
}

export const providerOps = {
  // A provider's client secret lives in the vault, never in config.toml. `remove: true` takes
  // it out again (a public client given one by mistake fails every refresh with invalid_client).
  set_client_secret: {
    async run({ state }, args) {
      const service = checkService(stringArg(args, 'service'));
      const key = credentialKey(service, '_provider', 'client_secret');
      if (booleanArg(args, 'remove') === true) {
        if (args.client_secret !== undefined && args.client_secret !== null) throw new SigilError(ErrorCode.BAD_REQUEST, 'give either "client_secret" or "remove", not both');
        const removed = await state.lock.requireStore().delete(key);
        state.credentials.providers.forget(); // the next flow or refresh goes without a secret
        return { service, removed };
      }
      state.credentials.providers.provider(service); // the provider must exist: a typo should not store a secret nowhere
      const value = bytesArg(args, 'client_secret');
      try {
        await state.lock.requireStore().set(key, value);
      } finally {
        value.fill(0);
      }
      state.credentials.providers.forget(); // the next flow or refresh uses the new secret
      return { service };
    },
  },

  // A new provider, checked (discovery included) and appended to config.toml: usable at once.
  add_provider: {
    run({ state }, args) {
      const name = inField('name', () => checkService(stringArg(args, 'name')));
      const table = providerTable(args);
      return serialized(state, async () => {
        if (name in PRESETS) {
          throw new SigilError(ErrorCode.ALREADY_EXISTS, `"${name}" is a built-in provider: to change its settings, edit [providers.${name}] in ${state.paths.config}`, { field: 'name' });
        }
        if (state.credentials.providers.has(name)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `provider "${name}" already exists in ${state.paths.config}`, { field: 'name' });
        // Before the (slow) discovery: a name taken in the file as it is now is refused at once.
        refuseExisting(state.paths.config, (await readConfigText(state.paths.config)).doc, name);
        await state.credentials.providers.check(name, table);
        await appendProvider(state.paths.config, name, table); // reads the file again: it may have changed meanwhile
        state.credentials.providers.add(name, table);
        return { name };
      });
    },
  },

  list_providers: {
    async run({ state }) {
      const names = new Set([...Object.keys(PRESETS), ...state.credentials.providers.names()]);
      // Whether a client secret is stored: known only while unlocked (null otherwise). Key
      // names only: no secret is decrypted for this.
      const store = state.lock.locked ? null : state.lock.requireStore();
      const secretSet = async (name: string) => {
        const key = credentialKey(name, '_provider', 'client_secret');
        return store ? (await store.list(key)).includes(key) : null;
      };
      const sorted = [...names].sort();
      const secrets = await Promise.all(sorted.map(secretSet));
      const providers = sorted.map((name, i) => {
        const client_secret_set = secrets[i] ?? null;
        try {
          return { name, configured: true, builtin: name in PRESETS, client_secret_set, ...endpointsKnown(state, state.credentials.providers.provider(name)) };
        } catch (err) {
          return { name, configured: false, builtin: name in PRESETS, client_secret_set, problem: (err as Error).message };
        }
      });
      return { providers };
    },
  },
} satisfies OpHandlers;
