import { parseRef } from '../../protocol/refs.js';
import { call } from '../agent.js';
import { info, printValue, secretValue } from '../output.js';

export async function resolveRef(ref: string): Promise<void> {
  parseRef(ref);
  const r = await call<{ value: unknown }>('resolve', { ref });
  await printValue(secretValue(r.value));
}

/** Exit status says it all: 0 resolvable, 2 malformed, 7 missing, 4 locked… (sigil(1)). */
export async function checkRef(ref: string, opts: { quiet?: boolean }): Promise<void> {
  parseRef(ref);
  await call('resolve', { ref });
  if (!opts.quiet) info(`${ref}: ok`);
}
