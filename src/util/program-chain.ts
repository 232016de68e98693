import type { ConfirmPrompt } from '../protocol/results.js';

/**
 * A caller's chain of programs as a person reads it, `git-credential-sigil ← git ← bash`:
 * the peer first, each program by its file name. The audit log and confirm questions carry
 * the full paths (src/agent/caller/caller.ts); `sigil audit`, the TUI and the agent's
 * messages show this. Not escaped here: callers pass it through terminalText.
 */
export function chainText(programs: readonly string[]): string {
  return programs.map(fileName).join(' ← ');
}

function fileName(program: string): string {
  const i = program.lastIndexOf('/');
  return i < 0 || i === program.length - 1 ? program : program.slice(i + 1);
}

/** An audit entry's chain as text, or "" when it has none (older lines, refused connections). */
export function auditChain(entry: { chain?: unknown }): string {
  const chain = entry.chain;
  // The log is a file anyone running as the user can edit: take only what has the right shape.
  if (!Array.isArray(chain) || chain.length === 0) return '';
  return chainText(chain.map((p) => String(p)));
}

/**
 * The program a confirm question is about, as the policy judges it, and which of
 * Sigilforge's clients it asks through: "/usr/bin/git (via git-credential-sigil)" rather than
 * the node that runs the helper. An agent too old to say falls back to the peer's executable.
 */
export function confirmProgram(q: Pick<ConfirmPrompt, 'program' | 'via' | 'exe'>): string | null {
  if (q.program === undefined || q.program === null) return q.exe;
  return q.via?.length ? `${q.program} (via ${q.via.join(', ')})` : q.program;
}
