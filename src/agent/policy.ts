import { realpathSync } from 'node:fs';
import type { PolicyRule } from '../config/config.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { Args } from '../protocol/messages.js';
import { opFacts, policyTarget, type PolicyTarget } from '../protocol/op-catalog.js';
import type { PeerCred } from '../util/peer-cred.js';
import { terminalText } from '../util/terminal-text.js';
import { UNKNOWN_HOST } from './caller/forwarded.js';

/**
 * Per-client policy (config.toml's `[[policy]]`, after securityd's and Ephemos' designs): an
 * account or secret may be restricted to listed executables, told apart by the peer's
 * /proc/PID/exe from SO_PEERCRED. Opt-in: a request no rule matches is allowed. Every rule that
 * matches must allow the client (rules only ever narrow). Ops that hand out or change a value
 * of one account or secret are checked; management ops (list_accounts, status, lock…) are not.
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
  /** The paths as written, for messages; null when the rule does not limit executables. */
  allow: string[] | null;
  /** The paths as written and, where they are symlinks, what they resolved to at start-up. */
  allowed: Set<string>;
  /** As written: absent (undefined) means no for local uses and yes for forwarded ones. */
  confirm: boolean | undefined;
  /** The hosts whose forwarded callers may use it (exact or prefix), true for any; null: none. */
  forward: true | { match: string; prefix: boolean }[] | null;
}

/** A connection relayed by the user's own ssh client from another machine (caller/forwarded.ts). */
export interface Forwarded {
  host: string;
}

export class Policy {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly PolicyRule[] = []) {
    this.rules = rules.map((r) => {
      const kind = r.account !== undefined ? 'account' : 'secret';
      const pattern = (r.account ?? r.secret)!;
      const allowed = new Set<string>();
      for (const path of r.allow ?? []) {
        allowed.add(path);
        // /proc/PID/exe names the file itself: "/usr/bin/python3" (a symlink) shows as "/usr/bin/python3.12".
        try {
          allowed.add(realpathSync(path));
        } catch {
          // Not installed (yet): the literal path still matches.
        }
      }
      const forward = r.forward === true ? true : r.forward ? r.forward.map(namePattern) : null;
      return { kind, pattern, ...namePattern(pattern), allow: r.allow ? [...r.allow] : null, allowed, confirm: r.confirm, forward };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * Throws FORBIDDEN when a rule matching this request's target does not allow the peer's
   * executable; otherwise says whether a matching rule wants the person to confirm this use.
   */
  check(op: string, args: Args, peer: PeerCred | null, forwarded?: Forwarded): ConfirmNeed | undefined {
    if (forwarded) return this.checkForwarded(op, args, forwarded);
    if (this.rules.length === 0) return undefined;
    const target = policyTarget(op, args);
    if (!target) return undefined;
    const shown = shownTarget(target);
    let confirm = false;
    for (const rule of this.rules) {
      if (!ruleMatches(rule, target)) continue;
      confirm ||= rule.confirm === true;
      if (rule.allow === null) continue;
      const exe = peer?.exe;
      if (exe !== undefined && rule.allowed.has(exe)) continue;
      const head = `${shown} may only be used by ${rule.allow.join(', ')} (policy in config.toml)`;
      const why =
        peer === null
          ? "this client's executable is unknown: this platform does not tell the agent who is connecting, so the rule refuses everyone"
          : exe === undefined
            ? `this client's executable is unknown (/proc/${peer.pid}/exe is not readable), so the rule refuses it`
            : `this client is ${printable(exe)}`;
      throw new SigilError(ErrorCode.FORBIDDEN, `${head}; ${why}`);
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
  private checkForwarded(op: string, args: Args, { host }: Forwarded): ConfirmNeed | undefined {
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

function printable(text: string): string {
  return terminalText(text, { max: 200 });
}
