import { checkService } from '../../protocol/names.js';
import type { ProviderInfo } from '../../protocol/results.js';
import { call } from '../agent.js';
import { info, printJson, printTable } from '../output.js';
import { readSecret } from '../secret-input.js';

export async function providersList(opts: { json?: boolean }): Promise<void> {
  const { providers } = await call<{ providers: ProviderInfo[] }>('list_providers');
  if (opts.json) return printJson(providers);
  printTable(
    ['PROVIDER', 'KIND', 'STATUS', 'SCOPES'],
    providers.map((p) => [p.name, p.builtin ? 'built-in' : 'custom', p.configured ? 'ready' : 'needs client_id', (p.scopes ?? []).join(' ')]),
  );
}

export async function providersSecret(service: string, opts: { stdin?: boolean }): Promise<void> {
  checkService(service);
  const secret = await readSecret(`Client secret for ${service}: `, { stdin: !!opts.stdin });
  try {
    await call('set_client_secret', { service, client_secret: secret });
  } finally {
    secret.fill(0);
  }
  info(`Stored the client secret for ${service} in the vault.`);
}

export interface AddProviderOpts {
  issuer?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  deviceEndpoint?: string;
  revocationEndpoint?: string;
  clientId: string;
  scopes?: string;
}

/** Adds [providers.NAME] to config.toml through the agent, which checks discovery first. */
export async function providersAdd(name: string, opts: AddProviderOpts): Promise<void> {
  checkService(name);
  await call('add_provider', {
    name,
    client_id: opts.clientId,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.authorizationEndpoint ? { authorization_endpoint: opts.authorizationEndpoint } : {}),
    ...(opts.tokenEndpoint ? { token_endpoint: opts.tokenEndpoint } : {}),
    ...(opts.deviceEndpoint ? { device_authorization_endpoint: opts.deviceEndpoint } : {}),
    ...(opts.revocationEndpoint ? { revocation_endpoint: opts.revocationEndpoint } : {}),
    ...(opts.scopes ? { scopes: opts.scopes.split(/[\s,]+/).filter(Boolean) } : {}),
  });
  info(`Added [providers.${name}] to config.toml. Next: sigil accounts add ${name} ACCOUNT`);
}
