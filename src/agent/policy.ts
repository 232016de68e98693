import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PolicyRule } from '../config/config.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { Args } from '../protocol/messages.js';
import { opFacts, policyTarget } from '../protocol/op-catalog.js';
import { chainText } from '../util/program-chain.js';
import { terminalText } from '../util/terminal-text.js';
import { actingProcess, chainPrograms, type Caller, type CallerProcess } from './caller/caller.js';

/**
 * Per-client policy (config.toml's `[[policy]]`, after securityd's and Ephemos' designs): an
 * account or secret may be restricted to listed programs. The program is the caller's
 * (src/agent/caller/identify.ts): a script's path for an interpreter running one, else the
 * executable; Sigilforge's own clients are transparent, so `allow = ["/usr/bin/git"]` names
 * the git that ran git-credential-sigil, and `allow = ["~/bin/deploy.sh"]` the script that
 * ran sigil-token. Opt-in: a request no rule matches is allowed. Every rule that matches must
 * allow the program (rules only ever narrow). Ops that hand out or change a value of one
 * account or secret are checked; management ops (list_accounts, status, lock…) are not.
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
  confirm: boolean;
}

export class Policy {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly PolicyRule[] = [], opts: { home?: string } = {}) {
    const home = opts.home ?? (process.env.HOME || homedir());
    this.rules = rules.map((r) => {
      const kind = r.account !== undefined ? 'account' : 'secret';
      const pattern = (r.account ?? r.secret)!;
      const prefix = pattern.endsWith('*');
      const allowed = new Set<string>();
      for (const written of r.allow ?? []) addPath(allowed, expandHome(written, home));
      return { kind, pattern, match: prefix ? pattern.slice(0, -1) : pattern, prefix, allow: r.allow ? [...r.allow] : null, allowed, confirm: r.confirm === true };
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
    if (this.rules.length === 0) return undefined;
    const target = policyTarget(op, args);
    if (!target) return undefined;
    const shown = target.kind === 'secret' ? `secret://${printable(target.name)}` : printable(target.name);
    let confirm = false;
    for (const rule of this.rules) {
      if (rule.kind !== target.kind) continue;
      if (rule.prefix ? !target.name.startsWith(rule.match) : target.name !== rule.match) continue;
      confirm ||= rule.confirm;
      if (rule.allow === null) continue;
      const acting = actingProcess(caller);
      if (acting?.program !== undefined && allows(rule, acting.program)) continue;
      const head = `${shown} may only be used by ${rule.allow.join(', ')} (policy in config.toml)`;
      throw new SigilError(ErrorCode.FORBIDDEN, `${head}; ${refusalReason(caller, acting)}`);
    }
    // Only ops that hand a value out are asked about (as ssh-add -c asks per signature).
    return confirm && opFacts(op)?.reveals === true ? { target: shown } : undefined;
  }
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
