import { chmodSync, copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxEach } from '../agent/helpers.js';
import { BIN, eventually, isAlive, ROOT, TEST_PASSPHRASE, which, type Sandbox } from '../support/sandbox.js';

/**
 * The README's [[policy]] example, run as documented. It used to show
 * `allow = ["/usr/bin/git"]`, which refuses git: git never connects itself, its credential
 * helper (node) does. The example now allows the node that runs Sigilforge's clients, and the
 * text says why git's path refuses git: both claims are checked here, with real git.
 */
const TOKEN = 'ghp_policyDocExample0123';
const NODE = realpathSync(process.execPath);

function readmePolicyExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('Per-client policy (opt-in)');
  const m = /```toml\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('README has no [[policy]] example');
  return m[1]!.replace(/^ {2}/gm, '');
}

describe.runIf(process.platform === 'linux' && which('git'))('the README policy example', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  async function start(config: string): Promise<Record<string, string>> {
    // The token is stored first: a rule that refuses sigil (node) would refuse setting it too.
    const first = await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    process.kill(first, 'SIGTERM');
    await eventually(() => !isAlive(first), 10_000);
    const dir = join(sb.home, 'config/sigilforge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), config);
    await sb.startAgent();
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);
    // git runs the installed helper through its #! line, as after npm install.
    const gitconfig = join(sb.home, 'gitconfig');
    writeFileSync(gitconfig, `[credential]\n\thelper = ${join(ROOT, 'dist/bin/git-credential-sigil.js')}\n`);
    return { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  }
  const fill = (env: Record<string, string>) => sb.exec('git', ['credential', 'fill'], { input: 'protocol=https\nhost=github.com\n\n', env });

  it('as written (node allowed): git gets the token through its helper, a program at another path does not', async () => {
    const example = readmePolicyExample();
    expect(example).toContain('allow = ["/usr/bin/node"]');
    const env = await start(example.replace('/usr/bin/node', NODE)); // where this machine's node is
    const r = await fill(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`password=${TOKEN}\n`);
    expect(await sb.token('github', 'work')).toMatchObject({ code: 0, stdout: `${TOKEN}\n` });

    const copy = join(sb.home, 'other-node');
    copyFileSync(NODE, copy);
    chmodSync(copy, 0o755);
    expect(await sb.exec(copy, [BIN.token, 'github', 'work'])).toMatchObject({ code: 12, stdout: '' });
  });

  it('allow = ["/usr/bin/git"] refuses git, as the README says', async () => {
    const env = await start('[[policy]]\naccount = "github/work"\nallow = ["/usr/bin/git"]\n');
    const r = await fill(env);
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stderr).toContain(`github/work may only be used by /usr/bin/git (policy in config.toml); this client is ${NODE}`);
  });
});
