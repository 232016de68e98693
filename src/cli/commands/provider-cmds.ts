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
