import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox, which } from '../support/sandbox.js';

/**
 * `sigil completion bash|zsh|fish`: the scripts load in the real shells, and completing
 * words runs through the generated functions (bash: COMP_WORDS and _sigil, as `complete -F`
 * calls it). Service and account names come from a real agent through `sigil` on PATH.
 */
const HAVE_FISH = which('fish');
const HAVE_ZSH = which('zsh');

function script(shell: string): string {
  return execFileSync(process.execPath, [BIN.sigil, 'completion', shell], { encoding: 'utf8' });
}

describe('sigil completion', () => {
  let sb: Sandbox;
  let file: string;
  beforeEach(() => {
    sb = new Sandbox();
    // `sigil` on PATH, as the scripts call it by name.
    const bin = join(sb.home, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sigil'), `#!/bin/sh\nexec '${process.execPath}' '${BIN.sigil}' "$@"\n`);
    chmodSync(join(bin, 'sigil'), 0o755);
    sb.env.PATH = `${bin}:${sb.env.PATH ?? '/usr/bin:/bin'}`;
    file = join(sb.home, 'sigil.completion');
  });
  afterEach(() => sb.cleanup());

  /** Runs _sigil on these words (the last one is being completed) and returns COMPREPLY. */
  async function bashComplete(words: string[]): Promise<string[]> {
    writeFileSync(file, script('bash'));
    const list = words.map((w) => `'${w}'`).join(' ');
    const r = await sb.exec('bash', ['--norc', '--noprofile', '-c', `source '${file}'; COMP_WORDS=(${list}); COMP_CWORD=${words.length - 1}; _sigil; printf '%s\\n' "\${COMPREPLY[@]}"`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  }

  it('bash: the script parses and registers a completion for sigil', async () => {
    writeFileSync(file, script('bash'));
    expect((await sb.exec('bash', ['-n', file])).code).toBe(0);
    const r = await sb.exec('bash', ['--norc', '--noprofile', '-c', `source '${file}' && complete -p sigil`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('complete -F _sigil sigil\n');
  });

  it('bash: completes subcommands, flags and choices from the commander tree', async () => {
    expect(await bashComplete(['sigil', 'acc'])).toEqual(['accounts']);
    expect(await bashComplete(['sigil', 'accounts', 'l'])).toEqual(['list', 'ls']);
    expect(await bashComplete(['sigil', 'token', 'get', '--f'])).toEqual(['--format']);
    expect(await bashComplete(['sigil', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    // A hidden option (--scrypt-work-factor) is not offered.
    expect(await bashComplete(['sigil', 'init', '--'])).toEqual(['--passphrase-stdin', '--help']);
  });

  it('bash: completes nothing for names when no agent answers, and says nothing', async () => {
    expect(await bashComplete(['sigil', 'token', 'get', ''])).toEqual([]);
  });

  it('bash: completes service and account names from the running agent', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    for (const [svc, acct] of [['github', 'work'], ['github', 'personal'], ['spotify', 'me']] as const) {
      const r = await sb.sigil(['token', 'set', svc, acct, '--stdin'], { input: `tok-${svc}-${acct}\n` });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await bashComplete(['sigil', 'token', 'get', ''])).toEqual(['github', 'spotify']);
    expect(await bashComplete(['sigil', 'token', 'get', 'github', ''])).toEqual(['work', 'personal'].sort());
    expect(await bashComplete(['sigil', 'token', 'get', '--format', 'json', 'spo'])).toEqual(['spotify']);
    expect(await bashComplete(['sigil', 'accounts', 'rm', 'spotify', ''])).toEqual(['me']);
    if (HAVE_FISH) {
      writeFileSync(file, script('fish'));
      const r = await sb.exec('fish', ['--no-config', '-c', `source '${file}'; complete -C 'sigil token get '; complete -C 'sigil token get github '`]);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(['github', 'spotify', 'personal', 'work']);
    }
  });

  it.runIf(HAVE_FISH)(`fish: the script parses and completes${HAVE_FISH ? '' : ' (skipped: fish is not installed)'}`, async () => {
    writeFileSync(file, script('fish'));
    const n = await sb.exec('fish', ['--no-config', '-n', file]);
    expect(n.stderr).toBe('');
    expect(n.code).toBe(0);
    const r = await sb.exec('fish', ['--no-config', '-c', `source '${file}'; complete -C 'sigil acc'; complete -C 'sigil completion '`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['accounts', 'bash', 'fish', 'zsh']);
  });

  it.skipIf(!HAVE_ZSH)(`zsh: the script parses${HAVE_ZSH ? '' : ' (skipped: zsh is not installed)'}`, async () => {
    writeFileSync(file, script('zsh'));
    const r = await sb.exec('zsh', ['-n', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
