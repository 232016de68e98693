import { toSigilError } from '../../protocol/errors.js';
import { call } from '../agent.js';
import { canonicalRef } from '../resolve-refs.js';
import { info, jsonValue, printJson, printValue, secretValue } from '../output.js';

export async function resolveRef(ref: string, opts: { json?: boolean } = {}): Promise<void> {
  const r = await call('resolve', { ref: canonicalRef(ref) });
  const value = secretValue(r.value);
  if (opts.json) return printJson({ ref, ...jsonValue(value) });
  await printValue(value);
}

/** Exit status says it all: 0 resolvable, 2 malformed, 7 missing, 4 locked… (sigil(1)). */
export async function checkRef(ref: string, opts: { quiet?: boolean; json?: boolean }): Promise<void> {
  try {
    await call('resolve', { ref: canonicalRef(ref) });
  } catch (err) {
    // --json: the verdict on stdout too; the exit status and the message stay as without it.
    const e = toSigilError(err);
    if (opts.json) printJson({ ref, ok: false, code: e.code, message: e.message });
    throw err;
  }
  if (opts.json) return printJson({ ref, ok: true });
  if (!opts.quiet) info(`${ref}: ok`);
}
