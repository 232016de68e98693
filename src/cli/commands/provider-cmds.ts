import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { checkService } from '../../protocol/names.js';
import type { ProviderInfo } from '../../protocol/results.js';
import { call } from '../agent.js';
import { info, printJson, printTable } from '../output.js';
import { readSecret } from '../secret-input.js';

export async function providersList(opts: { json?: boolean }): Promise<void> {
  const { providers } = await call('list_providers');
  if (opts.json) return printJson(providers);
  printTable(
    ['PROVIDER', 'KIND', 'STATUS', 'CLIENT SECRET', 'SCOPES'],
    providers.map((p) => [p.name, p.builtin ? 'built-in' : 'custom', providerStatus(p), p.client_secret_set === null ? '(locked)' : p.client_secret_set ? 'set' : 'none', (p.scopes ?? []).join(' ')]),
  );
}

/** Only what is known: an issuer that was never asked may still turn out unusable. */
function providerStatus(p: ProviderInfo): string {
  if (!p.configured) return 'needs client_id';
  return p.discovered === false ? 'not yet discovered' : 'ready';
}

export async function providersSecret(service: string, opts: { stdin?: boolean; remove?: boolean }): Promise<void> {
  checkService(service);
  if (opts.remove) {
    if (opts.stdin) throw new SigilError(ErrorCode.BAD_REQUEST, '--remove takes no secret: leave out --stdin');
    const { removed } = await call('set_client_secret', { service, remove: true });
    info(removed ? `Removed the client secret for ${service} from the vault.` : `No client secret for ${service} was stored.`);
    return;
  }
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
