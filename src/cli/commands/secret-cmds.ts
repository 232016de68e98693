import { checkSecretName } from '../../protocol/names.js';
import { call } from '../agent.js';
import { info, printJson } from '../output.js';
import { readSecret } from '../secret-input.js';

export async function secretSet(name: string, opts: { stdin?: boolean; overwrite?: boolean }): Promise<void> {
  checkSecretName(name);
  const value = await readSecret(`Value for ${name}: `, { stdin: !!opts.stdin });
  try {
    const r = await call<{ created: boolean }>('set_secret', { name, value, overwrite: opts.overwrite !== false });
    info(r.created ? `Stored ${name}.` : `Replaced ${name}.`);
  } finally {
    value.fill(0);
  }
}

export async function secretGet(name: string, opts: { json?: boolean }): Promise<void> {
  const r = await call<{ name: string; value: string }>('get_secret', { name: checkSecretName(name) });
  if (opts.json) return printJson(r);
  process.stdout.write(r.value + '\n');
}

export async function secretList(prefix: string | undefined, opts: { json?: boolean }): Promise<void> {
  const r = await call<{ names: string[] }>('list_secrets', prefix ? { prefix } : {});
  if (opts.json) return printJson(r.names);
  if (r.names.length) process.stdout.write(r.names.join('\n') + '\n');
}

export async function secretRm(name: string): Promise<void> {
  await call('delete_secret', { name: checkSecretName(name) });
  info(`Removed ${name}.`);
}
