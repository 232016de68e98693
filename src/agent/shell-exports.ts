/** The shell code sigil-agent prints for `eval`, in the dialects ssh-agent speaks (+ fish). */
export type ShellDialect = 'sh' | 'csh' | 'fish';

export function detectShell(shellEnv: string | undefined): ShellDialect {
  const name = (shellEnv ?? '').split('/').pop() ?? '';
  if (name.endsWith('csh')) return 'csh';
  if (name === 'fish') return 'fish';
  return 'sh';
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes a value for `dialect` unless it is plainly safe. Single quotes everywhere, but
 * each shell has its own exceptions inside them:
 * - sh: none; a ' is written '\''.
 * - csh/tcsh: history substitution still sees ! (even in eval'd backquote output), so it
 *   is written \!; a ' is written '\''.
 * - fish: \ and ' are escapes inside single quotes, so they are written \\ and \'.
 */
export function quote(dialect: ShellDialect, value: string): string {
  if (SAFE.test(value)) return value;
  if (dialect === 'fish') return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  const body = value.replace(/'/g, `'\\''`);
  return `'${dialect === 'csh' ? body.replace(/!/g, '\\!') : body}'`;
}

/** pid null: the agent runs on another host (forwarded), so SIGIL_AGENT_PID is unset. */
export function exportLines(dialect: ShellDialect, socket: string, pid: number | null, announce: boolean): string {
  const vars: [string, string][] = [['SIGIL_AUTH_SOCK', socket]];
  if (pid !== null) vars.push(['SIGIL_AGENT_PID', String(pid)]);
  const lines = vars.map(([k, v]) => {
    if (dialect === 'csh') return `setenv ${k} ${quote(dialect, v)};`;
    if (dialect === 'fish') return `set -gx ${k} ${quote(dialect, v)};`;
    return `${k}=${quote(dialect, v)}; export ${k};`;
  });
  if (pid === null) lines.push(unsetLine(dialect, 'SIGIL_AGENT_PID'));
  // As ssh-agent does when it starts one; a reused agent stays quiet in every new shell.
  if (announce) lines.push(`echo Agent pid ${pid};`);
  return lines.join('\n') + '\n';
}

function unsetLine(dialect: ShellDialect, name: string): string {
  return dialect === 'csh' ? `unsetenv ${name};` : dialect === 'fish' ? `set -e ${name};` : `unset ${name};`;
}

export function unsetLines(dialect: ShellDialect, pid: number): string {
  const lines = ['SIGIL_AUTH_SOCK', 'SIGIL_AGENT_PID'].map((k) => unsetLine(dialect, k));
  lines.push(`echo Agent pid ${pid} killed;`);
  return lines.join('\n') + '\n';
}
