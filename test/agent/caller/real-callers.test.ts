import { chmodSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, eventually, isAlive, ROOT, TEST_PASSPHRASE, which, type Sandbox } from '../../support/sandbox.js';
import { auditUntil, sandboxEach } from '../helpers.js';
import { NATIVE_TOKEN } from '../../support/token-programs.js';

/**
 * [[policy]] on callers, with the real binaries: Sigilforge's clients are transparent, so a
 * rule names the program that ran them. git (through git-credential-sigil, which git starts
 * via `sh -c`) is served under `allow = ["/usr/bin/git"]`, a script calling sigil-token under
 * its own path (`~/bin/deploy.sh`), a program `sigil run` starts as itself; the helper or
 * sigil-token run from an interactive shell, and a `node -e` client speaking the protocol
 * itself, are refused, told how to allow. The audit log names the chain.
 */
const TOKEN = 'ghp_callerPolicy0123456789';
const GIT = realpathSync('/usr/bin/git');
const BASH = realpathSync('/bin/bash');
const HELPER = join(ROOT, 'dist/bin/git-credential-sigil.js');
/** Both sigil-tokens as the bin: the Node shim, and the C program where it was built. */
const TOKEN_BINS = [BIN.token, ...(existsSync(NATIVE_TOKEN) ? [NATIVE_TOKEN] : [])];

describe.runIf(process.platform === 'linux' && which('git'))('policy on callers, end to end', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  /** The token is stored first (no rule yet), then the agent restarts under `config`. */
  async function start(config: string): Promise<void> {
    const first = await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    expect((await sb.sigil(['token', 'set', 'github', 'home', '--stdin'], { input: 'ghp_home' })).code).toBe(0);
    process.kill(first, 'SIGTERM');
    await eventually(() => !isAlive(first), 10_000);
    mkdirSync(join(sb.home, 'config/sigilforge'), { recursive: true });
    writeFileSync(join(sb.home, 'config/sigilforge/config.toml'), config);
    await sb.startAgent();
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(0);
  }

  /** Sigilforge's bin entries linked into ~/.local/bin as npm links them, and that first on PATH. */
  function installLinks(token = BIN.token): Record<string, string> {
    const bin = join(sb.home, '.local/bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(HELPER, join(bin, 'git-credential-sigil'));
    symlinkSync(token, join(bin, 'sigil-token'));
    symlinkSync(BIN.sigil, join(bin, 'sigil'));
    return { PATH: `${bin}:${sb.env.PATH}` };
  }

  function script(name: string, body: string): string {
    const dir = join(sb.home, 'bin');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    // `exit $?` last: the shell stays the parent of what it runs, as in any longer script.
    writeFileSync(path, `#!/bin/bash\n${body}\nexit $?\n`);
    chmodSync(path, 0o755);
    return path;
  }

  const gitEnv = (helper: string) => {
    const gitconfig = join(sb.home, 'gitconfig');
    writeFileSync(gitconfig, `[credential]\n\thelper = ${helper}\n`);
    return { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  };
  const REQUEST = 'protocol=https\nhost=github.com\n\n';

  it('allow = ["/usr/bin/git"]: git credential fill is served through the helper (by name or path); the helper run from a shell is refused', async () => {
    await start('[git]\n"github.com" = "github/work"\n\n[[policy]]\naccount = "github/work"\nallow = ["/usr/bin/git"]\n');
    const path = installLinks();
    // `helper = sigil`, as the README sets it up: git runs `git credential-sigil get` through sh -c.
    const byName = await sb.exec('git', ['credential', 'fill'], { input: REQUEST, env: { ...path, ...gitEnv('sigil') } });
    expect(byName.stderr).toBe('');
    expect(byName.stdout).toContain(`password=${TOKEN}\n`);
    const byPath = await sb.exec('git', ['credential', 'fill'], { input: REQUEST, env: { ...path, ...gitEnv(HELPER) } });
    expect(byPath.stdout).toContain(`password=${TOKEN}\n`);

    // The same helper typed in a shell: the program that ran it is bash, not git.
    const typed = await sb.exec('bash', ['--norc', '--noprofile', '-i'], { input: `printf 'protocol=https\\nhost=github.com\\n\\n' | git-credential-sigil get\n`, env: path });
    expect(typed.stdout).not.toContain(TOKEN);
    expect(typed.stderr).toContain(
      `github/work may only be used by /usr/bin/git (policy in config.toml); the program that ran it is ${BASH} reading commands typed or piped to it (git-credential-sigil ← bash ← `,
    );
    expect(typed.stderr).toContain('only a script file can be allowed');

    const entries = await auditUntil(sb, (es) => es.some((e) => e.op === 'get_token' && e.result === 'FORBIDDEN'));
    const served = entries.filter((e) => e.op === 'get_token' && e.result === 'ok');
    expect(served).toHaveLength(2);
    for (const e of served) expect((e.chain as string[]).slice(0, 2)).toEqual(['git-credential-sigil', GIT]);
    const refused = entries.find((e) => e.op === 'get_token' && e.result === 'FORBIDDEN')!;
    expect((refused.chain as string[]).slice(0, 2)).toEqual(['git-credential-sigil', BASH]);
    // pid, uid and exe stay: the peer, as the kernel reported it.
    expect(refused).toMatchObject({ exe: realpathSync(process.execPath), uid: process.getuid!() });
    expect(JSON.stringify(entries)).not.toContain(TOKEN);
  });

  it.each(TOKEN_BINS)('allow = ["~/bin/deploy.sh"]: sigil-token (%s) from that script is served, typed in a shell or from another script refused', async (token) => {
    await start('[[policy]]\naccount = "github/work"\nallow = ["~/bin/deploy.sh"]\n');
    const path = installLinks(token);
    const deploy = script('deploy.sh', 'echo "token: $(sigil-token github work)"');
    const other = script('other.sh', 'echo "token: $(sigil-token github work)"');
    expect(await sb.exec(deploy, [], { env: path })).toMatchObject({ code: 0, stdout: `token: ${TOKEN}\n` });

    const fromOther = await sb.exec(other, [], { env: path });
    expect(fromOther.stdout).toBe('token: \n');
    expect(fromOther.stderr).toContain(`sigil-token: github/work may only be used by ~/bin/deploy.sh (policy in config.toml); the program that ran it is ${other} (sigil-token ← other.sh ← `);
    expect(fromOther.stderr).toContain(`to allow it, add "${other}" to allow`);

    const typed = await sb.exec('bash', ['--norc', '--noprofile', '-i'], { input: 'sigil-token github work; echo "exit $?"\n', env: path });
    expect(typed.stdout).toBe('exit 12\n');
    expect(typed.stderr).toContain(`the program that ran it is ${BASH} reading commands typed or piped to it (sigil-token ← bash ← `);

    // Accounts no rule names are not affected.
    expect(await sb.exec('bash', ['--norc', '-i'], { input: 'sigil-token github home\n', env: path })).toMatchObject({ stdout: 'ghp_home\n' });

    // A script reached through a symlink is the file it points to.
    symlinkSync(deploy, join(sb.home, 'deploy-link'));
    expect(await sb.exec(join(sb.home, 'deploy-link'), [], { env: path })).toMatchObject({ code: 0, stdout: `token: ${TOKEN}\n` });

    const entries = await auditUntil(sb, (es) => es.filter((e) => e.op === 'get_token' && e.target === 'github/work').length >= 4);
    const chains = entries.filter((e) => e.op === 'get_token' && e.target === 'github/work').map((e) => `${e.result} ${(e.chain as string[]).slice(0, 2).join(' ')}`);
    expect(chains).toEqual([`ok sigil-token ${deploy}`, `FORBIDDEN sigil-token ${other}`, `FORBIDDEN sigil-token ${BASH}`, `ok sigil-token ${deploy}`]);
  });

  it('a node -e client speaking the protocol itself is refused, and told only a script can be allowed', async () => {
    const node = realpathSync(process.execPath);
    await start('[[policy]]\naccount = "github/work"\nallow = ["~/bin/deploy.sh"]\n');
    const code = `import(${JSON.stringify(join(ROOT, 'dist/client/agent-client.js'))}).then(async ({ AgentClient }) => {
      const c = await AgentClient.connect({ clientName: 'sigil-token' }); // a name claimed is no proof
      try { await c.request('get_token', { service: 'github', account: 'work' }); console.log('served'); }
      catch (e) { console.log(e.code + ': ' + e.message); }
      c.close();
    })`;
    const r = await sb.exec(node, ['-e', code]);
    expect(r.stdout).toContain(`FORBIDDEN: github/work may only be used by ~/bin/deploy.sh (policy in config.toml); this client is ${node} running code from its command line (node ← `);
    expect(r.stdout).not.toContain('served');
  });

  it('a program sigil run starts is judged as itself; the references sigil run resolves, as the program that ran sigil', async () => {
    await start('[[policy]]\naccount = "github/work"\nallow = ["~/bin/deploy.sh"]\n');
    const path = installLinks();
    const deploy = script('deploy.sh', 'printf "%s" "$(sigil-token github work)"');
    const run = await sb.exec('sigil', ['run', '--no-masking', '--', deploy], { env: path });
    expect(run).toMatchObject({ code: 0, stdout: TOKEN });

    // sigil run resolving auth://github/work for its child: the program asking is whatever ran sigil run.
    const runner = script('runner.sh', 'sigil run --no-masking -- sh -c \'printf %s "$T"\'');
    const refused = await sb.exec(runner, [], { env: { ...path, T: 'auth://github/work' } });
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`the program that ran it is ${runner} (sigil ← runner.sh ← `);

    const entries = await auditUntil(sb, (es) => es.some((e) => e.op === 'resolve' && e.result === 'FORBIDDEN'));
    const served = entries.find((e) => e.op === 'get_token' && e.result === 'ok')!;
    expect((served.chain as string[]).slice(0, 3)).toEqual(['sigil-token', deploy, 'sigil']);
  });

  it('sigil audit and the audit lines show the chain', async () => {
    await start('[[policy]]\naccount = "github/work"\nallow = ["~/bin/deploy.sh"]\n');
    const path = installLinks();
    const deploy = script('deploy.sh', 'sigil-token github work >/dev/null');
    expect((await sb.exec(deploy, [], { env: path })).code).toBe(0);
    await auditUntil(sb, (es) => es.some((e) => e.op === 'get_token'));
    const out = await sb.sigil(['audit', '-n', '5']);
    expect(out.stdout).toMatch(/get_token github\/work ok sigil-token pid=\d+ \(sigil-token ← deploy\.sh ← /);
  });
});
