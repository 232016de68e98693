import { ErrorCode } from './codes.js';
import { SigilError } from './errors.js';
import { terminalText } from '../util/terminal-text.js';
import { checkAccount, checkCredentialType, checkSecretName, checkService } from './names.js';

/**
 * `auth://service/account[/credential_type]` and `secret://name` references. The default
 * credential of an auth ref is the access token, refreshed as `sigil-token` would.
 *
 * And vals' expressions (helmfile/vals): `ref+BACKEND://PATH[?PARAMS][#/path/in/value][+]`
 * (or `secretref+…`, vals' mark for a secret), also written `vals:ref+…`. `expr` is the expression without the `vals:` and without the
 * trailing `+` (vals' end-of-expression mark, for expressions inside a longer string).
 */
export type Ref =
  | { scheme: 'auth'; service: string; account: string; credential: string }
  | { scheme: 'secret'; name: string }
  | { scheme: 'vals'; backend: string; expr: string };

/** Longest vals expression taken: a longer one is a mistake (a file pasted in), not a reference. */
const MAX_VALS_EXPR = 4096;

/** `ref+…`, `secretref+…` or either after `vals:`: a vals expression (parsed by parseRef). */
export function isValsRef(text: string): boolean {
  return /^(vals:)?(secret)?ref\+/.test(text);
}

export function parseRef(text: string): Ref {
  if (isValsRef(text)) return parseVals(text);
  if (text.startsWith('vals:')) throw refError(text, 'after vals: comes a vals expression, ref+BACKEND://…');
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/.exec(text);
  if (!m) throw refError(text, 'expected auth://service/account[/type] or secret://name');
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === 'secret') {
    if (!rest) throw refError(text, 'the secret name is missing');
    return { scheme: 'secret', name: wrap(text, () => checkSecretName(rest)) };
  }
  if (scheme !== 'auth') throw refError(text, `unknown scheme "${scheme}://" (use auth:// or secret://)`);
  const parts = rest.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw refError(text, 'expected auth://service/account or auth://service/account/type');
  }
  const [service, account, credential = 'access_token'] = parts as [string, string, string?];
  return {
    scheme: 'auth',
    service: wrap(text, () => checkService(service)),
    account: wrap(text, () => checkAccount(account)),
    credential: wrap(text, () => checkCredentialType(credential)),
  };
}

export function formatRef(ref: Ref): string {
  if (ref.scheme === 'vals') return ref.expr;
  return ref.scheme === 'secret' ? `secret://${ref.name}` : `auth://${ref.service}/${ref.account}/${ref.credential}`;
}

/**
 * A reference as the audit log and messages show it: a vals expression without its query
 * string, whose parameters may be credentials (vault's `secret_id=…`).
 */
export function shownRef(text: string): string {
  return isValsRef(text) ? text.replace(/\?[^#]*/, '?…') : text;
}

function parseVals(text: string): Ref {
  const expr = text.replace(/^vals:/, '').replace(/\+$/, '');
  if (expr.length > MAX_VALS_EXPR) throw refError(text, `a vals expression is at most ${MAX_VALS_EXPR} characters`);
  // Blanks and control characters: a reference copied with its neighbours, never one vals takes.
  if (/[\s\x00-\x1f\x7f]/.test(expr)) throw refError(text, 'a vals expression holds no blanks or control characters');
  const m = /^(?:secret)?ref\+([a-z0-9][a-z0-9_-]*):\/\/(.*)$/.exec(expr);
  if (!m) throw refError(text, 'expected a vals expression ref+BACKEND://PATH[?PARAMS][#/path]');
  const [, backend, rest] = m as unknown as [string, string, string];
  if (rest === '' || rest.startsWith('?') || rest.startsWith('#')) throw refError(text, 'the path is missing after ://');
  // vals ends an expression at a "+" (its pkg/expansion pattern): one inside would be cut there.
  if (rest.includes('+')) throw refError(text, 'a vals expression holds no "+" but the one that may end it');
  return { scheme: 'vals', backend, expr };
}

function refError(text: string, why: string): SigilError {
  return new SigilError(ErrorCode.BAD_REQUEST, `invalid reference "${terminalText(text, { max: 100 })}": ${why}`);
}

function wrap(text: string, check: () => string): string {
  try {
    return check();
  } catch (err) {
    throw refError(text, (err as Error).message);
  }
}

export type ValsRef = Extract<Ref, { scheme: 'vals' }>;

/** A vals expression taken apart: PATH (before `?` and `#`), the raw query, the fragment's keys (`#/a/b`), if any. */
export interface ValsParts {
  path: string;
  query: string;
  fragment: string[] | null;
}

export function valsParts(ref: ValsRef): ValsParts {
  const rest = ref.expr.slice(ref.expr.indexOf('://') + 3);
  const hash = rest.indexOf('#');
  const head = hash < 0 ? rest : rest.slice(0, hash);
  const q = head.indexOf('?');
  const parts: ValsParts = { path: q < 0 ? head : head.slice(0, q), query: q < 0 ? '' : head.slice(q + 1), fragment: null };
  if (hash >= 0) {
    const fragment = rest.slice(hash + 1);
    if (!fragment.startsWith('/') || fragment === '/') throw refError(ref.expr, 'the fragment is a key path such as #/db/password');
    parts.fragment = fragment.slice(1).split('/');
    if (parts.fragment.some((k) => k === '')) throw refError(ref.expr, 'the fragment has an empty key (//)');
  }
  return parts;
}

/** The same expression with another PATH (a relative file path made absolute). */
export function withValsPath(ref: ValsRef, path: string): ValsRef {
  const prefix = ref.expr.slice(0, ref.expr.indexOf('://') + 3);
  const old = valsParts(ref).path;
  return { ...ref, expr: prefix + path + ref.expr.slice(prefix.length + old.length) };
}
