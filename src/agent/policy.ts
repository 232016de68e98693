import { realpathSync } from 'node:fs';
import type { PolicyRule } from '../config/config.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { Args } from '../protocol/messages.js';
import { opFacts, policyTarget } from '../protocol/op-catalog.js';
import type { PeerCred } from '../util/peer-cred.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * Per-client policy (config.toml's `[[policy]]`, after securityd's and Ephemos' designs): an
 * account or secret may be restricted to listed executables, told apart by the peer's
 * /proc/PID/exe from SO_PEERCRED. Opt-in: a request no rule matches is allowed. Every rule that
 * matches must allow the client (rules only ever narrow). Ops that hand out or change a value
 * of one account or secret are checked; management ops (list_accounts, status, lock…) are not.
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
  confirm: boolean;
}

export class Policy {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly PolicyRule[] = []) {
    this.rules = rules.map((r) => {
      const kind = r.account !== undefined ? 'account' : 'secret';
      const pattern = (r.account ?? r.secret)!;
      const prefix = pattern.endsWith('*');
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
      return { kind, pattern, match: prefix ? pattern.slice(0, -1) : pattern, prefix, allow: r.allow ? [...r.allow] : null, allowed, confirm: r.confirm === true };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * Throws FORBIDDEN when a rule matching this request's target does not allow the peer's
   * executable; otherwise says whether a matching rule wants the person to confirm this use.
   */
  check(op: string, args: Args, peer: PeerCred | null): ConfirmNeed | undefined {
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
}

function printable(text: string): string {
  return terminalText(text, { max: 200 });
}
