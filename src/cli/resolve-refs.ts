import { ErrorCode } from '../protocol/codes.js';
import { SigilError, toSigilError } from '../protocol/errors.js';
import { resolve } from 'node:path';
import { formatRef, isValsRef, parseRef, shownRef, valsParts, withValsPath, type Ref } from '../protocol/refs.js';
import { connectAgent } from './agent.js';
import type { SecretValue } from './output.js';

/** One place a reference is used: `where` names it for errors ("DB_PASSWORD", "line 3"). */
export interface RefUse {
  ref: string;
  where: string;
}

/** Values that are references: `auth://…`, `secret://…` or a vals `ref+…` (a malformed one is an error, not a literal). */
export function looksLikeRef(text: string): boolean {
  return /^(auth|secret):\/\//.test(text) || isValsRef(text);
}

/** Backends the agent reads from a file path, which vals takes relative to the working directory. */
const FILE_BACKENDS = new Set(['file', 'sops']);

/**
 * The reference as the agent is asked for it: parsed (BAD_REQUEST naming what is wrong) and
 * written the one way, with a relative ref+file:// or ref+sops:// path made absolute against
 * this process's working directory — the agent's is not the caller's.
 */
export function canonicalRef(text: string, cwd = process.cwd()): string {
  return formatRef(anchored(parseRef(text), cwd));
}

function anchored(ref: Ref, cwd: string): Ref {
  if (ref.scheme !== 'vals' || !FILE_BACKENDS.has(ref.backend)) return ref;
  const { path } = valsParts(ref);
  return path.startsWith('/') ? ref : withValsPath(ref, resolve(cwd, path));
}

/** At most this many failures are listed one by one. */
const MAX_LISTED = 10;

/**
 * Resolves every reference through the agent: each one parsed first (a malformed one is
 * reported before the agent is asked anything), then every distinct reference asked for
 * at once, pipelined over one connection. All or nothing: when any use fails, the error
 * lists each failing use — where, reference, why; never a value — and carries the code of
 * the first, so the exit status says locked (4), not found (7), re-auth (9)…
 * Returns the value of each reference, keyed by the reference text as used: a string for
 * text, bytes for a value that is not UTF-8 text.
 */
export async function resolveRefs(uses: readonly RefUse[]): Promise<Map<string, SecretValue>> {
  const canonical = new Map<string, string>();
  const failures: Array<{ use: RefUse; err: SigilError; parse: boolean }> = [];
  for (const use of uses) {
    try {
      canonical.set(use.ref, canonicalRef(use.ref));
    } catch (err) {
      failures.push({ use, err: toSigilError(err), parse: true });
    }
  }
  if (failures.length) throw combine(failures);
  const distinct = [...new Set(canonical.values())];
  const values = new Map<string, SecretValue>();
  if (!distinct.length) return values;

  const client = await connectAgent();
  let settled: PromiseSettledResult<{ value?: unknown }>[];
  try {
    settled = await Promise.allSettled(distinct.map((ref) => client.call('resolve', { ref })));
  } finally {
    client.close();
  }
  const byCanonical = new Map<string, { value: SecretValue } | { err: SigilError }>();
  distinct.forEach((ref, n) => {
    const r = settled[n]!;
    if (r.status === 'rejected') byCanonical.set(ref, { err: toSigilError(r.reason) });
    else {
      // A str for text, bin for bytes that are not text (sigil-protocol(7)).
      const value = r.value.value;
      if (typeof value === 'string' || value instanceof Uint8Array) byCanonical.set(ref, { value });
      else byCanonical.set(ref, { err: new SigilError(ErrorCode.INTERNAL, 'the agent answered without a value') });
    }
  });
  for (const use of uses) {
    const r = byCanonical.get(canonical.get(use.ref)!)!;
    if ('err' in r) failures.push({ use, err: r.err, parse: false });
    else values.set(use.ref, r.value);
  }
  if (failures.length) throw combine(failures);
  return values;
}

function combine(failures: Array<{ use: RefUse; err: SigilError; parse: boolean }>): SigilError {
  // parseRef's message already quotes the reference ("invalid reference "…": why").
  const lines = failures.map(({ use, err, parse }) => (parse ? `${use.where}: ${err.message}` : `${use.where}: cannot resolve ${shownRef(use.ref)}: ${err.message}`));
  const first = failures[0]!.err;
  if (lines.length === 1) return new SigilError(first.code, lines[0]!);
  const shown = lines.slice(0, MAX_LISTED).map((l) => `  ${l}`);
  if (lines.length > MAX_LISTED) shown.push(`  … and ${lines.length - MAX_LISTED} more`);
  return new SigilError(first.code, `${lines.length} references cannot be resolved:\n${shown.join('\n')}`);
}
