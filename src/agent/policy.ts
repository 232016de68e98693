import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PolicyRule } from '../config/config.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { Args } from '../protocol/messages.js';
import { opFacts, policyTarget, type PolicyTarget } from '../protocol/op-catalog.js';
import { chainText } from '../util/program-chain.js';
import { terminalText } from '../util/terminal-text.js';
import { actingProcess, chainPrograms, type Caller, type CallerProcess } from './caller/caller.js';
import { UNKNOWN_HOST } from './caller/forwarded.js';

/**
 * Per-client policy (config.toml's `[[policy]]`, after securityd's and Ephemos' designs): an
 * account or secret may be restricted to listed programs. The program is the caller's
 * (src/agent/caller/identify.ts): a script's path for an interpreter running one, else the
 * executable; Sigilforge's own clients are transparent, so `allow = ["/usr/bin/git"]` names
 * the git that ran git-credential-sigil, and `allow = ["~/bin/deploy.sh"]` the script that
 * ran sigil-token. Opt-in: a request no rule matches is allowed. Every rule that matches must
 * allow the program (rules only ever narrow). Ops that hand out or change a value of one
 * account or secret are checked; management ops (list_accounts, status, lock…) are not.
 * A caller forwarded from another machine is the opposite, closed by default: a rule's
 * `forward` opens an account or secret to it (checkForwarded).
 */

/** A request a rule wants the person to confirm first: what to ask about. */
export interface ConfirmNeed {
  /** The account ("github/work") or secret ("secret://db/prod") as the person reads it. */
  target: string;
}

export { policyTarget, type PolicyTarget } from '../protocol/op-catalog.js';

interface CompiledRule {
  kind: 'account' | 'secret';
  /** The pattern as written (for messages). */
  pattern: string;
  /** Exact name, or the prefix when the pattern ends in `*`. */
  match: string;
  prefix: boolean;
  /** The paths as written, for messages; null when the rule does not limit programs. */
  allow: string[] | null;
  /** The paths (~ expanded) and, where they are symlinks, what they resolved to at start-up. */
  allowed: Set<string>;
  /** As written: absent (undefined) means no for local uses and yes for forwarded ones. */
  confirm: boolean | undefined;
  /** The hosts whose forwarded callers may use it (exact or prefix), true for any; null: none. */
  forward: true | { match: string; prefix: boolean }[] | null;
}

export class Policy {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly PolicyRule[] = [], opts: { home?: string } = {}) {
    const home = opts.home ?? (process.env.HOME || homedir());
    this.rules = rules.map((r) => {
      const kind = r.account !== undefined ? 'account' : 'secret';
      const pattern = (r.account ?? r.secret)!;
      const allowed = new Set<string>();
      for (const written of r.allow ?? []) addPath(allowed, expandHome(written, home));
      const forward = r.forward === true ? true : r.forward ? r.forward.map(namePattern) : null;
      return { kind, pattern, ...namePattern(pattern), allow: r.allow ? [...r.allow] : null, allowed, confirm: r.confirm, forward };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * Throws FORBIDDEN when a rule matching this request's target does not allow the caller's
   * program; otherwise says whether a matching rule wants the person to confirm this use.
   */
  check(op: string, args: Args, caller: Caller): ConfirmNeed | undefined {
    if (caller.forwarded) return this.checkForwarded(op, args, caller.forwarded);
    if (this.rules.length === 0) return undefined;
    const target = policyTarget(op, args);
    if (!target) return undefined;
    const shown = shownTarget(target);
    let confirm = false;
    for (const rule of this.rules) {
      if (!ruleMatches(rule, target)) continue;
      confirm ||= rule.confirm === true;
      if (rule.allow === null) continue;
      const acting = actingProcess(caller);
      if (acting?.program !== undefined && allows(rule, acting.program)) continue;
      const head = `${shown} may only be used by ${rule.allow.join(', ')} (policy in config.toml)`;
      throw new SigilError(ErrorCode.FORBIDDEN, `${head}; ${refusalReason(caller, acting)}`);
    }
    // Only ops that hand a value out are asked about (as ssh-add -c asks per signature).
    return confirm && opFacts(op)?.reveals === true ? { target: shown } : undefined;
  }

  /**
   * A caller on another machine (the op catalogue's `forwarded` fact): `yes` ops run, `no` ops
   * never do, and `opened` ones only for an account or secret that a matching rule's `forward`
   * opens to its host — the access token of an account, not its refresh token. `allow` lists
   * local programs, so it does not apply; the use is confirmed unless the opening rule says
   * `confirm = false` (and no matching rule says true).
   */
  private checkForwarded(op: string, args: Args, { host }: NonNullable<Caller['forwarded']>): ConfirmNeed | undefined {
    const use = opFacts(op)?.forwarded ?? 'yes'; // an unknown op: the dispatcher answers UNKNOWN_OP
    if (use === 'yes') return undefined;
    const over = `this connection is forwarded over ssh from ${hostShown(host)}`;
    if (use === 'no') throw new SigilError(ErrorCode.FORBIDDEN, `${op} is not available to a caller on another machine (${over}); run it on the machine where the agent runs`);
    const target = policyTarget(op, args);
    if (!target) throw new SigilError(ErrorCode.FORBIDDEN, `${op} over a forwarded connection must name an account or secret that config.toml opens to forwarding (${over})`);
    const shown = shownTarget(target);
    if (target.kind === 'account' && target.credential !== undefined) {
      throw new SigilError(ErrorCode.FORBIDDEN, `only the access token of ${shown} goes to another machine, not its ${printable(target.credential)} (${over}); resolve it on the machine where the agent runs`);
    }
    const matching = this.rules.filter((rule) => ruleMatches(rule, target));
    const opening = matching.filter((rule) => rule.forward === true || (rule.forward !== null && host !== UNKNOWN_HOST && rule.forward.some((p) => nameMatches(p, host))));
    if (opening.length === 0) {
      const key = target.kind === 'account' ? `account = ${JSON.stringify(target.name)}` : `secret = ${JSON.stringify(target.name)}`;
      const hosts = host === UNKNOWN_HOST ? 'true' : `[${JSON.stringify(host)}]`;
      throw new SigilError(ErrorCode.FORBIDDEN, `${shown} is not open to callers on other machines (${over}); to allow it, add to config.toml: [[policy]] ${printable(key)} forward = ${printable(hosts)}`);
    }
    const confirm = matching.some((rule) => rule.confirm === true) || !opening.some((rule) => rule.confirm === false);
    return confirm ? { target: shown } : undefined;
  }
}

function namePattern(pattern: string): { match: string; prefix: boolean } {
  const prefix = pattern.endsWith('*');
  return { match: prefix ? pattern.slice(0, -1) : pattern, prefix };
}

function nameMatches(p: { match: string; prefix: boolean }, name: string): boolean {
  return p.prefix ? name.startsWith(p.match) : name === p.match;
}

function ruleMatches(rule: CompiledRule, target: PolicyTarget): boolean {
  return rule.kind === target.kind && nameMatches(rule, target.name);
}

function shownTarget(target: PolicyTarget): string {
  return target.kind === 'secret' ? `secret://${printable(target.name)}` : printable(target.name);
}

function hostShown(host: string): string {
  return host === UNKNOWN_HOST ? 'a host its command line does not name' : printable(host);
}

/** Matched as resolved at start-up, else as resolved now (a program installed since; only on a miss). */
function allows(rule: CompiledRule, program: string): boolean {
  if (rule.allowed.has(program)) return true;
  for (const path of [...rule.allowed]) addPath(rule.allowed, path);
  return rule.allowed.has(program);
}

/** The path and, when it is a symlink, what it points to: /proc/PID/exe and scripts are named resolved. */
function addPath(set: Set<string>, path: string): void {
  set.add(path);
  try {
    set.add(realpathSync(path));
  } catch {
    // Not installed (yet): the literal path still matches.
  }
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** Processes of a chain shown in a refusal; a longer one ends with "…". */
const SHOWN_CHAIN = 6;

/** Why the caller is refused, naming its chain, and how to allow it. */
function refusalReason(caller: Caller, acting: CallerProcess | undefined): string {
  const peer = caller.peer;
  if (peer === null) return "this client's program is unknown: this platform does not tell the agent who is connecting, so the rule refuses everyone";
  if (caller.chain.length === 0) return `this client's program is unknown (/proc/${peer.pid} is not readable), so the rule refuses it`;
  const programs = chainPrograms(caller);
  const chain = printable(chainText(programs.slice(0, SHOWN_CHAIN)) + (programs.length > SHOWN_CHAIN ? ' ← …' : ''));
  if (!acting) {
    return `no program the agent can name started this client (${chain}: the chain ends at another user's process or pid 1); run it from a script and add the script's path to allow`;
  }
  if (acting.program === undefined) return `this client's program is unknown (/proc/${acting.pid}/exe is not readable), so the rule refuses it (${chain})`;
  const program = printable(acting.program);
  const via = acting === caller.chain[0] ? 'this client is' : 'the program that ran it is';
  switch (acting.code) {
    case 'command line':
      return `${via} ${program} running code from its command line (${chain}); only a script file can be allowed: put the code in one and add its path to allow`;
    case 'stdin':
      return `${via} ${program} reading commands typed or piped to it (${chain}); only a script file can be allowed: put the commands in one and add its path to allow`;
    case 'module':
      return `${via} ${program} running a module (-m) (${chain}); allow the module's script by its path instead`;
    default:
      return `${via} ${program} (${chain}); to allow it, add "${program}" to allow`;
  }
}

function printable(text: string): string {
  return terminalText(text, { max: 200 });
}
