import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxEach } from '../agent/helpers.js';
import { BIN, eventually, isAlive, ROOT, TEST_PASSPHRASE, which, type Sandbox } from '../support/sandbox.js';

/**
 * The [[policy]] examples of the README and of sigil.toml(5), run as documented. They used to
 * show `allow = ["/usr/bin/node"]` (every client connected as node, and git's own path
 * refused git); now a rule names the program that ran Sigilforge's client: git itself, and
 * a script of yours by its ~/ path. Each claim is checked with real git, a real script and
 * a shell.
 */
const TOKEN = 'ghp_policyDocExample0123';
const SECRET = 'db-prod-password-example';
const HELPER = join(ROOT, 'dist/bin/git-credential-sigil.js');

function readmePolicyExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('Per-client policy (opt-in)');
  const m = /```toml\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('README has no [[policy]] example');
  return m[1]!.replace(/^ {2}/gm, '');
}

/** sigil.toml(5)'s EXAMPLES block that holds [[policy]], as the reader sees it. */
function manPolicyExample(): string {
  const man = readFileSync(join(ROOT, 'man/sigil.toml.5'), 'utf8');
  const blocks = [...man.slice(man.indexOf('.SH EXAMPLES')).matchAll(/^\.EX\n([\s\S]*?)^\.EE$/gm)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes('[[policy]]'));
  if (!block) throw new Error('sigil.toml(5) has no [[policy]] example');
  return block.replace(/\\-/g, '-').replace(/\\\(dq/g, '"').replace(/\\\(aq/g, "'");
}

describe.runIf(process.platform === 'linux' && which('git'))('the [[policy]] examples of the docs', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  /** Values are stored first (no rule yet: this test's process is no program the examples allow). */
  async function start(config: string): Promise<Record<string, string>> {
    const first = await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    expect((await sb.sigil(['secret', 'set', 'db/prod/password', '--stdin'], { input: SECRET })).code).toBe(0);
    process.kill(first, 'SIGTERM');
    await eventually(() => !isAlive(first), 10_000);
    const dir = join(sb.home, 'config/sigilforge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), config);
    await sb.startAgent();
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);
    // Installed as npm links it, and git set up as the README says (`credential.helper sigil`).
    const bin = join(sb.home, '.local/bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(HELPER, join(bin, 'git-credential-sigil'));
    symlinkSync(BIN.token, join(bin, 'sigil-token'));
    symlinkSync(BIN.sigil, join(bin, 'sigil'));
    const gitconfig = join(sb.home, 'gitconfig');
    writeFileSync(gitconfig, '[credential]\n\thelper = sigil\n');
    return { PATH: `${bin}:${sb.env.PATH}`, GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  }
  const fill = (env: Record<string, string>) => sb.exec('git', ['credential', 'fill'], { input: 'protocol=https\nhost=github.com\n\n', env });
  const script = (name: string, body: string): string => {
    mkdirSync(join(sb.home, 'bin'), { recursive: true });
    const path = join(sb.home, 'bin', name);
    writeFileSync(path, `#!/bin/sh\n${body}\nexit $?\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('README: git credential fill and ~/bin/deploy.sh get the token; sigil-token typed in a shell does not', async () => {
    const example = readmePolicyExample();
    expect(example).toContain('allow = ["/usr/bin/git", "~/bin/deploy.sh"]');
    const env = await start(example);
    const r = await fill(env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`password=${TOKEN}\n`);

    const deploy = script('deploy.sh', 'sigil-token github work');
    expect(await sb.exec(deploy, [], { env })).toMatchObject({ code: 0, stdout: `${TOKEN}\n` });

    const typed = await sb.exec('bash', ['--norc', '-i'], { input: 'sigil-token github work\n', env });
    expect(typed.stdout).toBe('');
    expect(typed.stderr).toContain('sigil-token: github/work may only be used by /usr/bin/git, ~/bin/deploy.sh (policy in config.toml); the program that ran it is');
    // Another script of the same content, at another path, is not the one allowed.
    const other = script('other.sh', 'sigil-token github work');
    expect(await sb.exec(other, [], { env })).toMatchObject({ code: 12, stdout: '' });
  });

  it('sigil.toml(5): git for the work account, and only ~/bin/deploy.sh reads production secrets', async () => {
    const example = manPolicyExample();
    expect(example).toContain('allow = ["~/bin/deploy.sh"]');
    const env = await start(example);
    expect((await fill(env)).stdout).toContain(`password=${TOKEN}\n`);
    const deploy = script('deploy.sh', 'sigil secret get db/prod/password');
    expect(await sb.exec(deploy, [], { env })).toMatchObject({ code: 0, stdout: `${SECRET}\n` });
    // Its sigil run, too: the references it resolves are asked for by the script.
    const run = script('deploy.sh', 'sigil run --no-masking -- sh -c \'printf %s "$PW"\'');
    expect(await sb.exec(run, [], { env: { ...env, PW: 'secret://db/prod/password' } })).toMatchObject({ code: 0, stdout: SECRET });
    const r = await sb.exec('bash', ['--norc', '-i'], { input: 'sigil secret get db/prod/password\n', env });
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('sigil: secret://db/prod/password may only be used by ~/bin/deploy.sh (policy in config.toml)');
  });
});
