import { bytesArg, stringArg } from '../../protocol/messages.js';
import { checkService, credentialKey } from '../../protocol/names.js';
import { PRESETS } from '../../oauth/provider-presets.js';
import { str, type OpTable } from '../op-table.js';

export const providerOps: OpTable = {
  // A provider's client secret lives in the vault, never in config.toml.
  set_client_secret: {
    secret: true,
    audit: true,
    target: (args) => str(args, 'service'),
    async run({ state }, args) {
      const service = checkService(stringArg(args, 'service'));
      state.providers.provider(service); // the provider must exist: a typo should not store a secret nowhere
      const value = bytesArg(args, 'client_secret');
      try {
        await state.requireStore().set(credentialKey(service, '_provider', 'client_secret'), value);
      } finally {
        value.fill(0);
      }
      state.providers.forget(); // the next flow or refresh uses the new secret
      return { service };
    },
  },

  list_providers: {
    secret: false,
    audit: false,
    run({ state }) {
      const names = new Set([...Object.keys(PRESETS), ...state.providerNames()]);
      const providers = [...names].sort().map((name) => {
        try {
          const p = state.providers.provider(name);
          return { name, configured: true, builtin: name in PRESETS, scopes: p.scopes, discovery: Boolean(p.issuer && !p.token_endpoint), device: Boolean(p.device_authorization_endpoint || p.issuer) };
        } catch (err) {
          return { name, configured: false, builtin: name in PRESETS, problem: (err as Error).message };
        }
      });
      return { providers };
    },
  },
};
