/** The shell code sigil-agent prints for `eval`, in the dialects ssh-agent speaks (+ fish). */
export type ShellDialect = 'sh' | 'csh' | 'fish';

export function detectShell(shellEnv: string | undefined): ShellDialect {
  const name = (shellEnv ?? '').split('/').pop() ?? '';
  if (name.endsWith('csh')) return 'csh';
  if (name === 'fish') return 'fish';
  return 'sh';
}

/** Single-quotes a value unless it is plainly safe, for every dialect we emit. */
function quote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function exportLines(dialect: ShellDialect, socket: string, pid: number, announce: boolean): string {
  const vars: [string, string][] = [
    ['SIGIL_AUTH_SOCK', socket],
    ['SIGIL_AGENT_PID', String(pid)],
  ];
  const lines = vars.map(([k, v]) => {
    if (dialect === 'csh') return `setenv ${k} ${quote(v)};`;
    if (dialect === 'fish') return `set -gx ${k} ${quote(v)};`;
    return `${k}=${quote(v)}; export ${k};`;
  });
  // As ssh-agent does when it starts one; a reused agent stays quiet in every new shell.
  if (announce) lines.push(`echo Agent pid ${pid};`);
  return lines.join('\n') + '\n';
}

export function unsetLines(dialect: ShellDialect, pid: number): string {
  const vars = ['SIGIL_AUTH_SOCK', 'SIGIL_AGENT_PID'];
  const lines = vars.map((k) => (dialect === 'csh' ? `unsetenv ${k};` : dialect === 'fish' ? `set -e ${k};` : `unset ${k};`));
  lines.push(`echo Agent pid ${pid} killed;`);
  return lines.join('\n') + '\n';
}
