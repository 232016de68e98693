import { checkSecretName } from '../../protocol/names.js';
import { call } from '../agent.js';
import { SigilError } from '../../protocol/errors.js';
import { ErrorCode } from '../../protocol/codes.js';
import { info, jsonValue, printJson, printTable, printValue, secretValue } from '../output.js';
import { readSecret } from '../secret-input.js';
import { expiresInOption } from '../expires-in.js';
import { rollbackText } from '../rollback-text.js';

export async function secretSet(name: string, opts: { stdin?: boolean; overwrite?: boolean; expiresIn?: string }): Promise<void> {
  checkSecretName(name);
  // Checked before the value is asked for: a typo in the option costs no retyping.
  const expiresIn = expiresInOption(opts.expiresIn);
  if (expiresIn === 0) throw new SigilError(ErrorCode.BAD_REQUEST, `--expires-in: "${opts.expiresIn}" is no lifetime (leave the option out for a secret that does not expire)`);
  const value = await readSecret(`Value for ${name}: `, { stdin: !!opts.stdin });
  try {
    const expiresAt = expiresIn !== undefined ? Math.floor(Date.now() / 1000) + expiresIn : undefined;
    const r = await call('set_secret', { name, value, overwrite: opts.overwrite !== false, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}) });
    const until = expiresAt !== undefined ? ` It expires ${localTime(expiresAt)}.` : '';
    info((r.created ? `Stored ${name}.` : `Replaced ${name}.`) + until);
  } finally {
    value.fill(0);
  }
}

export async function secretGet(name: string, opts: { json?: boolean }): Promise<void> {
  // secret://NAME as resolve takes it: the reference people copy is accepted here too.
  const r = await call('get_secret', { name: checkSecretName(name.replace(/^secret:\/\//, '')) });
  const value = secretValue(r.value);
  if (opts.json) return printJson({ name: r.name, ...jsonValue(value) });
  await printValue(value);
}

export async function secretList(prefix: string | undefined, opts: { json?: boolean; long?: boolean }): Promise<void> {
  const r = await call('list_secrets', prefix ? { prefix } : {});
  const expiry = (name: string) => r.expires_at?.[name] ?? null;
  // Without -l the output is what scripts have always read: names, one a line, or a JSON list of them.
  if (!opts.long) {
    if (opts.json) return printJson(r.names);
    if (r.names.length) process.stdout.write(r.names.join('\n') + '\n');
    return;
  }
  if (opts.json) return printJson(r.names.map((name) => ({ name, expires_at: expiry(name) })));
  const now = Date.now() / 1000;
  const when = (at: number | null) => (at === null ? '-' : at <= now ? `expired ${localTime(at)}` : localTime(at));
  printTable(
    ['NAME', 'EXPIRES'],
    r.names.map((n) => [n, when(expiry(n))]),
  );
}

export async function secretRm(name: string): Promise<void> {
  await call('delete_secret', { name: checkSecretName(name) });
  info(`Removed ${name}.`);
}

/** The kept versions of a secret, newest first: numbers and times, never values. */
export async function secretHistory(name: string, opts: { json?: boolean }): Promise<void> {
  const r = await call('secret_history', { name: checkSecretName(name) });
  if (opts.json) return printJson(r);
  if (r.versions.length === 0) {
    info(`${name} has no previous versions.`);
    return;
  }
  printTable(
    ['VERSION', 'REPLACED AT'],
    r.versions.map((v) => [String(v.version), localTime(v.replaced_at)]),
  );
}

export async function secretRollback(name: string, version: string): Promise<void> {
  checkSecretName(name);
  if (!/^[1-9][0-9]{0,14}$/.test(version)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid version "${version.slice(0, 20)}": a number from \`sigil secret history ${name}\``);
  }
  info(rollbackText(await call('rollback_secret', { name, version: Number(version) })));
}

/** Unix seconds as local "YYYY-MM-DD HH:MM:SS" (seconds: versions often change within a minute). */
function localTime(s: number | null): string {
  if (s === null) return '-';
  const d = new Date(s * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
