/**
 * Which script an interpreter runs, read from its command line as the interpreter itself
 * reads it: options first (some take the next argument as their value), then the script and
 * its own arguments. Pure: the caller reads /proc and resolves the path.
 *
 * Getting an option wrong errs toward refusing: a value taken for the script names a file no
 * rule allows (and no Sigilforge client), so the process is judged as a script nobody listed.
 * The options that load other code before the script (`node -r`, `--import`, `ruby -r`) are
 * known, so that their value is never taken for the script.
 */

export type Interpreter = 'node' | 'python' | 'perl' | 'ruby' | 'shell';

/** What the command line says the interpreter runs: a script, or where its code comes from instead. */
export interface ScriptArg {
  script?: string;
  code?: 'command line' | 'module' | 'stdin';
  /** `sh -c CMD`: the command string is its parent's doing (system(3), popen, git). */
  relay?: true;
}

const INTERPRETERS: [RegExp, Interpreter][] = [
  [/^(node|nodejs)(\d[\d.]*)?$/, 'node'],
  [/^(python|pypy)(\d[\d.]*)?$/, 'python'],
  [/^perl(\d[\d.]*)?$/, 'perl'],
  [/^ruby(\d[\d.]*)?$/, 'ruby'],
  [/^(sh|ash|dash|bash|zsh|ksh|ksh93|mksh|pdksh|yash|posh|fish|csh|tcsh)$/, 'shell'],
];

/** The interpreter an executable is, by its file name (`/usr/bin/python3.11` → python). */
export function interpreterOf(exe: string): Interpreter | undefined {
  const name = exe.slice(exe.lastIndexOf('/') + 1);
  for (const [re, kind] of INTERPRETERS) if (re.test(name)) return kind;
  return undefined;
}

/** A login shell: "-bash" as argv[0] (login(1), sshd, terminals), or bash/zsh -l / --login. */
export function isLoginShell(argv: readonly string[]): boolean {
  if (argv[0]?.startsWith('-')) return true;
  for (const a of argv.slice(1)) {
    if (a === '--login') return true;
    if (a.startsWith('--')) continue;
    if (!/^-[A-Za-z]+$/.test(a)) break; // the first operand (or -o's value): options end
    if (a.includes('l')) return true;
  }
  return false;
}

export function scriptArg(kind: Interpreter, argv: readonly string[]): ScriptArg {
  switch (kind) {
    case 'node':
      return nodeScript(argv);
    case 'python':
      return shortOptions(argv, { code: 'c', module: 'm', value: 'WX', long: ['--check-hash-based-pycs'] });
    case 'perl':
      // -l and -0 take octal digits (`-lne CODE` is -l -n -e); -i an extension, -M a module.
      return shortOptions(argv, { code: 'eE', value: 'I', rest: 'MmixCdDV', digits: '0l' });
    case 'ruby':
      return shortOptions(argv, { code: 'e', value: 'IrCE', rest: 'xWKTF', digits: '0' });
    case 'shell':
      return shellScript(argv);
  }
}

/** Node's options that take the next argument as their value (unless written `--opt=value`). */
const NODE_VALUE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--input-type',
  '--inspect-port',
  '--debug-port',
  '--title',
  '--env-file',
  '--env-file-if-exists',
  '--redirect-warnings',
  '--report-dir',
  '--report-directory',
  '--report-filename',
  '--report-signal',
  '--diagnostic-dir',
  '--heapsnapshot-signal',
  '--heapsnapshot-near-heap-limit',
  '--cpu-prof-dir',
  '--cpu-prof-name',
  '--cpu-prof-interval',
  '--heap-prof-dir',
  '--heap-prof-name',
  '--heap-prof-interval',
  '--icu-data-dir',
  '--openssl-config',
  '--secure-heap',
  '--secure-heap-min',
  '--tls-cipher-list',
  '--tls-keylog',
  '--unhandled-rejections',
  '--dns-result-order',
  '--disable-proto',
  '--disable-warning',
  '--experimental-default-type',
  '--experimental-policy',
  '--policy-integrity',
  '--experimental-config-file',
  '--localstorage-file',
  '--max-http-header-size',
  '--stack-trace-limit',
  '--trace-event-categories',
  '--trace-event-file-pattern',
  '--use-largepages',
  '--watch-path',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-shard',
  '--test-concurrency',
  '--test-timeout',
]);

function nodeScript(argv: readonly string[]): ScriptArg {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1] !== undefined ? { script: argv[i + 1]! } : { code: 'stdin' };
    if (a === '-') return { code: 'stdin' };
    if (!a.startsWith('-')) return { script: a };
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a.startsWith('--eval=') || a.startsWith('--print=') || /^-[a-zA-Z]*[ep]$/.test(a)) {
      return { code: 'command line' };
    }
    if (NODE_VALUE_OPTIONS.has(a)) i++;
  }
  // `node`, `node -i`: the REPL, reading what is typed.
  return { code: 'stdin' };
}

interface ShortOptionSpec {
  /** Letters whose value is code to run (`-c CMD`, `-e CODE`). */
  code: string;
  /** Letters whose value is a module to run (`python3 -m MOD`). */
  module?: string;
  /** Letters that take a value, attached (`-Ilib`) or as the next argument (`-I lib`). */
  value: string;
  /** Letters whose value, if any, is the rest of the cluster (`perl -i.bak`, `ruby -W2`). */
  rest?: string;
  /** Letters followed by optional digits, then more letters (`perl -l015n`). */
  digits?: string;
  /** Long options taking the next argument. */
  long?: string[];
}

/** python, perl and ruby: getopt-style clusters (`-uc CODE`, `-Ilib`), then the script. */
function shortOptions(argv: readonly string[], spec: ShortOptionSpec): ScriptArg {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1] !== undefined ? { script: argv[i + 1]! } : { code: 'stdin' };
    if (a === '-') return { code: 'stdin' };
    if (!a.startsWith('-')) return { script: a };
    if (a.startsWith('--')) {
      if (spec.long?.includes(a)) i++;
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (spec.code.includes(c)) return { code: 'command line' };
      if (spec.module?.includes(c)) return { code: 'module' };
      if (spec.value.includes(c)) {
        if (j === a.length - 1) i++; // the value is the next argument
        break;
      }
      if (spec.rest?.includes(c)) break;
      if (spec.digits?.includes(c)) while (j + 1 < a.length && /[0-9a-fA-Fx]/.test(a[j + 1]!) && !spec.code.includes(a[j + 1]!)) j++;
    }
  }
  return { code: 'stdin' };
}

/** Shell options that take the next argument: `-o NAME`, `+o NAME`, bash's `-O NAME`, `--rcfile FILE`. */
const SHELL_LONG_VALUE = new Set(['--rcfile', '--init-file']);

function shellScript(argv: readonly string[]): ScriptArg {
  let command = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--' || a === '-') {
      i++;
      return command ? COMMAND : argv[i] !== undefined ? { script: argv[i]! } : { code: 'stdin' };
    }
    if (a.startsWith('--')) {
      if (SHELL_LONG_VALUE.has(a)) i++;
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      const letters = a.slice(1);
      if (letters.includes('c')) command = true;
      if (letters.includes('s')) return command ? COMMAND : { code: 'stdin' };
      // -o NAME / -O NAME: the option's name is the next argument.
      for (const c of letters) if (c === 'o' || c === 'O') i++;
      continue;
    }
    return command ? COMMAND : { script: a };
  }
  return command ? COMMAND : { code: 'stdin' };
}

/** `sh -c CMD`: the command string is its parent's doing (system(3), popen, git): a relay. */
const COMMAND: ScriptArg = { code: 'command line', relay: true };
