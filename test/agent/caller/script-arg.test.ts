import { describe, expect, it } from 'vitest';
import { interpreterOf, isLoginShell, scriptArg, type Interpreter } from '../../../src/agent/caller/script-arg.js';

/** Which script an interpreter's command line runs, as the interpreter itself reads it. */
describe('scriptArg', () => {
  const cases: [Interpreter, string[], ReturnType<typeof scriptArg>][] = [
    // Sigilforge's own #! line: env -S node -- SCRIPT.
    ['node', ['node', '--', '/opt/sigil/dist/bin/sigil-token.cjs', 'github', 'work'], { script: '/opt/sigil/dist/bin/sigil-token.cjs' }],
    ['node', ['node', 'script.js', '-e', 'x'], { script: 'script.js' }],
    ['node', ['node', '--max-old-space-size=512', '--flag', 'script.js'], { script: 'script.js' }],
    // Options that load other code take a value: it is never the script.
    ['node', ['node', '-r', '/home/u/bin/allowed.js', 'evil.js'], { script: 'evil.js' }],
    ['node', ['node', '--import', 'allowed.mjs', '--title', 'x', 'evil.js'], { script: 'evil.js' }],
    ['node', ['node', '-e', 'require("net")'], { code: 'command line' }],
    ['node', ['node', '-pe', '1'], { code: 'command line' }],
    ['node', ['node', '--print', '1', 'x.js'], { code: 'command line' }],
    ['node', ['node'], { code: 'stdin' }],
    ['node', ['node', '-'], { code: 'stdin' }],
    ['python', ['python3', '-u', 'tool.py'], { script: 'tool.py' }],
    ['python', ['python3', '-c', 'import socket'], { code: 'command line' }],
    ['python', ['python3', '-uc', 'import socket'], { code: 'command line' }],
    ['python', ['python3', '-W', 'ignore', '-X', 'dev', 'tool.py'], { script: 'tool.py' }],
    ['python', ['python3', '-Wignore', 'tool.py'], { script: 'tool.py' }],
    ['python', ['python3', '-m', 'http.server'], { code: 'module' }],
    ['perl', ['perl', '-w', 'tool.pl'], { script: 'tool.pl' }],
    ['perl', ['perl', '-lne', 'print'], { code: 'command line' }],
    ['perl', ['perl', '-I', 'lib', '-MData::Dumper', 'tool.pl'], { script: 'tool.pl' }],
    ['ruby', ['ruby', '-r', 'json', 'tool.rb'], { script: 'tool.rb' }],
    ['ruby', ['ruby', '-e', 'puts 1'], { code: 'command line' }],
    ['shell', ['/bin/bash', '/home/u/bin/deploy.sh', 'prod'], { script: '/home/u/bin/deploy.sh' }],
    ['shell', ['bash', '-e', '-o', 'pipefail', 'deploy.sh'], { script: 'deploy.sh' }],
    ['shell', ['bash', '--rcfile', 'rc', '--norc', 'deploy.sh'], { script: 'deploy.sh' }],
    // The shell git, make and system(3) start commands with: a relay.
    ['shell', ['/bin/sh', '-c', 'git credential-sigil get', 'git credential-sigil get'], { code: 'command line', relay: true }],
    ['shell', ['bash', '-ec', 'sigil-token a b'], { code: 'command line', relay: true }],
    ['shell', ['bash'], { code: 'stdin' }],
    ['shell', ['bash', '-i'], { code: 'stdin' }],
    ['shell', ['sh', '-s', 'arg'], { code: 'stdin' }],
    ['shell', ['sh', '--', 'x.sh'], { script: 'x.sh' }],
  ];
  it.each(cases)('%s %j', (kind, argv, expected) => {
    expect(scriptArg(kind, argv)).toEqual(expected);
  });

  it('knows interpreters by their file name, versioned or not', () => {
    expect(interpreterOf('/usr/bin/python3.11')).toBe('python');
    expect(interpreterOf('/usr/local/bin/node')).toBe('node');
    expect(interpreterOf('/usr/bin/dash')).toBe('shell');
    expect(interpreterOf('/usr/bin/perl5.36.0')).toBe('perl');
    expect(interpreterOf('/usr/bin/git')).toBeUndefined();
    expect(interpreterOf('/usr/bin/nodemon')).toBeUndefined();
  });

  it('tells a login shell', () => {
    expect(isLoginShell(['-bash'])).toBe(true);
    expect(isLoginShell(['bash', '-l'])).toBe(true);
    expect(isLoginShell(['zsh', '--login'])).toBe(true);
    expect(isLoginShell(['bash', '-lc', 'x'])).toBe(true);
    expect(isLoginShell(['bash', '-c', 'ls -l'])).toBe(false);
    expect(isLoginShell(['bash', 'deploy.sh', '-l'])).toBe(false);
  });
});
