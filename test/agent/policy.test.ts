import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { Policy, policyTarget } from '../../src/agent/policy.js';
import { SigilError } from '../../src/protocol/errors.js';
import { BIN, Sandbox } from '../support/sandbox.js';
import { UNKNOWN_CALLER, type Caller } from '../../src/agent/caller/caller.js';
import { auditUntil, fakeCaller, sandboxEach } from './helpers.js';

/**
 * Per-client policy (config.toml's [[policy]]): an account or secret restricted to listed
 * programs, the caller's as src/agent/caller/identify.ts finds it. The end-to-end test runs a
 * real agent, sigil run from an allowed script and from another one, and a second copy of
 * the node binary at another path, which is no Sigilforge client.
 */

function refusal(fn: () => void): SigilError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SigilError) return err;
    throw err;
  }
  throw new Error('expected FORBIDDEN, nothing was thrown');
}

describe('Policy', () => {
  const peer = (exe: string) => fakeCaller(exe);
  const policy = new Policy([
    { account: 'github/work', allow: ['/usr/bin/git', '/usr/local/bin/gh'] },
    { secret: 'db/prod/*', allow: ['/usr/bin/psql'] },
  ]);

  it('finds the target of every op that hands out or changes a value, and of resolve', () => {
    for (const op of ['get_token', 'refresh_token', 'set_token', 'remove_account']) {
      expect(policyTarget(op, { service: 'github', account: 'work' })).toEqual({ kind: 'account', name: 'github/work' });
    }
    for (const op of ['get_secret', 'set_secret', 'delete_secret', 'secret_history', 'rollback_secret']) {
      expect(policyTarget(op, { name: 'db/prod/pw' })).toEqual({ kind: 'secret', name: 'db/prod/pw' });
    }
    expect(policyTarget('resolve', { ref: 'auth://github/work/refresh_token' })).toEqual({ kind: 'account', name: 'github/work', credential: 'refresh_token' });
    expect(policyTarget('resolve', { ref: 'auth://github/work' })).toEqual({ kind: 'account', name: 'github/work' });
    expect(policyTarget('resolve', { ref: 'secret://db/prod/pw' })).toEqual({ kind: 'secret', name: 'db/prod/pw' });
    expect(policyTarget('resolve', { ref: 'bogus' })).toBeUndefined();
    for (const op of ['list_accounts', 'get_account', 'status', 'lock', 'list_secrets', 'audit_tail']) {
      expect(policyTarget(op, { service: 'github', account: 'work', name: 'db/prod/pw' })).toBeUndefined();
    }
  });

  it('allows listed executables, refuses others with a message that says who may', () => {
    expect(() => policy.check('get_token', { service: 'github', account: 'work' }, peer('/usr/bin/git'))).not.toThrow();
    expect(() => policy.check('get_token', { service: 'github', account: 'work' }, peer('/usr/local/bin/gh'))).not.toThrow();
    const err = refusal(() => policy.check('get_token', { service: 'github', account: 'work' }, peer('/usr/bin/python3')));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toBe(
      'github/work may only be used by /usr/bin/git, /usr/local/bin/gh (policy in config.toml); this client is /usr/bin/python3 (python3); to allow it, add "/usr/bin/python3" to allow',
    );
    expect(refusal(() => policy.check('get_secret', { name: 'db/prod/pw' }, peer('/usr/bin/git'))).message).toBe(
      'secret://db/prod/pw may only be used by /usr/bin/psql (policy in config.toml); this client is /usr/bin/git (git); to allow it, add "/usr/bin/git" to allow',
    );
    expect(refusal(() => policy.check('resolve', { ref: 'auth://github/work' }, peer('/usr/bin/psql'))).code).toBe('FORBIDDEN');
  });

  it('leaves what no rule names alone, and management ops too', () => {
    const py = peer('/usr/bin/python3');
    expect(() => policy.check('get_token', { service: 'github', account: 'home' }, py)).not.toThrow();
    expect(() => policy.check('get_secret', { name: 'db/staging/pw' }, py)).not.toThrow();
    expect(() => policy.check('get_secret', { name: 'db/prod' }, py)).not.toThrow(); // the prefix is "db/prod/"
    expect(() => policy.check('list_accounts', {}, py)).not.toThrow();
    expect(() => policy.check('get_account', { service: 'github', account: 'work' }, py)).not.toThrow();
    expect(() => new Policy().check('get_token', { service: 'github', account: 'work' }, UNKNOWN_CALLER)).not.toThrow();
  });

  it('fails closed when the executable is unknown', () => {
    const args = { service: 'github', account: 'work' };
    const noPeer = refusal(() => policy.check('get_token', args, UNKNOWN_CALLER));
    expect(noPeer.code).toBe('FORBIDDEN');
    expect(noPeer.message).toContain('may only be used by /usr/bin/git');
    expect(noPeer.message).toContain('does not tell the agent who is connecting');
    const noExe = refusal(() => policy.check('get_token', args, { peer: { pid: 4242, uid: 1000, gid: 1000 }, chain: [{ pid: 4242, uid: 1000 }] }));
    expect(noExe.message).toContain('/proc/4242/exe is not readable');
    const noProc = refusal(() => policy.check('get_token', args, { peer: { pid: 4242, uid: 1000, gid: 1000 }, chain: [] }));
    expect(noProc.message).toContain('/proc/4242 is not readable');
  });

  it('needs every matching rule to allow the client', () => {
    const two = new Policy([
      { secret: 'db/*', allow: ['/usr/bin/psql', '/usr/bin/git'] },
      { secret: 'db/prod/*', allow: ['/usr/bin/psql'] },
    ]);
    expect(() => two.check('get_secret', { name: 'db/prod/pw' }, peer('/usr/bin/psql'))).not.toThrow();
    expect(refusal(() => two.check('get_secret', { name: 'db/prod/pw' }, peer('/usr/bin/git'))).message).toContain('only be used by /usr/bin/psql (');
    expect(() => two.check('get_secret', { name: 'db/dev/pw' }, peer('/usr/bin/git'))).not.toThrow();
  });

  /** git-credential-sigil ← git (credential-sigil) ← sh -c ← git ← bash, as git runs a helper named "sigil". */
  const gitHelper = (): Caller => ({
    peer: { pid: 50, uid: 1000, gid: 1000, exe: '/usr/bin/node' },
    chain: [
      { pid: 50, uid: 1000, exe: '/usr/bin/node', script: '/opt/sigil/dist/bin/git-credential-sigil.js', program: '/opt/sigil/dist/bin/git-credential-sigil.js', sigil: 'git-credential-sigil' },
      { pid: 49, uid: 1000, exe: '/usr/lib/git-core/git', program: '/usr/lib/git-core/git', relay: true },
      { pid: 48, uid: 1000, exe: '/usr/bin/dash', program: '/usr/bin/dash', code: 'command line', relay: true },
      { pid: 47, uid: 1000, exe: '/usr/bin/git', program: '/usr/bin/git' },
      { pid: 46, uid: 1000, exe: '/usr/bin/bash', program: '/usr/bin/bash', code: 'stdin', login: true },
    ],
  });

  it("judges the program that ran Sigilforge's client, looking through sh -c and git's helper dispatch", () => {
    expect(() => policy.check('get_token', { service: 'github', account: 'work' }, gitHelper())).not.toThrow();
    // The same helper typed at the login shell.
    const typed = gitHelper();
    typed.chain = [typed.chain[0]!, typed.chain[4]!];
    expect(refusal(() => policy.check('get_token', { service: 'github', account: 'work' }, typed)).message).toBe(
      'github/work may only be used by /usr/bin/git, /usr/local/bin/gh (policy in config.toml); the program that ran it is /usr/bin/bash reading commands typed or piped to it (git-credential-sigil ← bash); only a script file can be allowed: put the commands in one and add its path to allow',
    );
    // A peer that is no Sigilforge client is judged as itself, whoever ran it.
    const direct = fakeCaller('/usr/bin/node', { parents: [{ program: '/usr/bin/git' }] });
    direct.chain[0]!.code = 'command line';
    expect(refusal(() => policy.check('get_token', { service: 'github', account: 'work' }, direct)).message).toContain(
      'this client is /usr/bin/node running code from its command line (node ← git); only a script file can be allowed',
    );
  });

  it('refuses a client no program it can name started (its chain ends at another uid or pid 1)', () => {
    const cron = gitHelper();
    cron.chain = cron.chain.slice(0, 3); // the helper, git's dispatch, sh -c, then root's cron
    expect(refusal(() => policy.check('get_token', { service: 'github', account: 'work' }, cron)).message).toContain(
      "no program the agent can name started this client (git-credential-sigil: the chain ends at another user's process or pid 1); run it from a script and add the script's path to allow",
    );
  });

  it('expands ~/ with the home directory, and matches a script installed after the rule was read', () => {
    const home = mkdtempSync(join(tmpdir(), 'sigil-policy-home-'));
    try {
      const p = new Policy([{ account: 'github/work', allow: ['~/bin/deploy.sh'] }], { home });
      const script = join(home, 'bin/deploy.sh');
      const client = (program: string): Caller => ({
        peer: { pid: 9, uid: 1000, gid: 1000, exe: '/usr/bin/node' },
        chain: [
          { pid: 9, uid: 1000, exe: '/usr/bin/node', program: '/x/dist/bin/sigil-token.cjs', sigil: 'sigil-token' },
          { pid: 8, uid: 1000, exe: '/usr/bin/bash', script: program, program },
        ],
      });
      expect(() => p.check('get_token', { service: 'github', account: 'work' }, client(script))).not.toThrow();
      // Installed later as a link to the real file: the link is resolved on the first miss.
      mkdirSync(join(home, 'real'));
      writeFileSync(join(home, 'real/deploy-1.sh'), '');
      mkdirSync(join(home, 'bin'));
      symlinkSync('../real/deploy-1.sh', script);
      expect(() => p.check('get_token', { service: 'github', account: 'work' }, client(realpathSync(join(home, 'real/deploy-1.sh'))))).not.toThrow();
      expect(refusal(() => p.check('get_token', { service: 'github', account: 'work' }, client('/tmp/other.sh'))).message).toContain(
        'may only be used by ~/bin/deploy.sh (policy in config.toml); the program that ran it is /tmp/other.sh (sigil-token ← other.sh); to allow it, add "/tmp/other.sh" to allow',
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('matches an allowed symlink by what it points to (as /proc/PID/exe shows it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-policy-'));
    try {
      const real = join(dir, 'tool-1.2');
      writeFileSync(real, '');
      const link = join(dir, 'tool');
      symlinkSync('tool-1.2', link); // relative, as distributions install them
      const p = new Policy([{ account: 'github/work', allow: [link] }]);
      expect(() => p.check('get_token', { service: 'github', account: 'work' }, peer(realpathSync(real)))).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config.toml [[policy]]', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-policy-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const load = (text: string) => {
    writeFileSync(join(dir, 'config.toml'), text);
    return loadConfig(join(dir, 'config.toml'));
  };
  const loadError = (text: string): string => {
    try {
      load(text);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected a config error');
  };

  it('reads rules in file order, and has none by default', () => {
    expect(load('').policy).toBeUndefined();
    expect(
      load('[[policy]]\naccount = "github/work"\nallow = ["/usr/bin/git", "/usr/local/bin/gh"]\n\n[[policy]]\nsecret = "db/prod/*"\nallow = ["/usr/bin/psql"]\n').policy,
    ).toEqual([
      { account: 'github/work', allow: ['/usr/bin/git', '/usr/local/bin/gh'] },
      { secret: 'db/prod/*', allow: ['/usr/bin/psql'] },
    ]);
    expect(load('[[policy]]\naccount = "github/*"\nallow = ["/usr/bin/git"]\n').policy).toEqual([{ account: 'github/*', allow: ['/usr/bin/git'] }]);
  });

  it('names the bad entry', () => {
    const ok = '[[policy]]\naccount = "github/work"\nallow = ["/usr/bin/git"]\n';
    expect(loadError('[[policy]]\nallow = ["/usr/bin/git"]\n')).toContain('"policy[0]" must be a table with exactly one of account');
    expect(loadError(ok + '[[policy]]\naccount = "a/b"\nsecret = "x"\nallow = ["/usr/bin/git"]\n')).toContain('"policy[1]" must be a table with exactly one of');
    expect(loadError('[[policy]]\naccount = "github"\nallow = ["/usr/bin/git"]\n')).toContain('"policy[0].account" must be "service/account"');
    expect(loadError('[[policy]]\nsecret = "db/*/pw"\nallow = ["/usr/bin/git"]\n')).toContain('"policy[0].secret" must be a secret name');
    expect(loadError('[[policy]]\nsecret = "db"\nallow = "/usr/bin/git"\n')).toContain('"policy[0].allow" must be a non-empty list of absolute paths of programs or scripts (or ~/…)');
    expect(loadError('[[policy]]\nsecret = "db"\nallow = ["git"]\n')).toContain('"policy[0].allow"');
    expect(loadError('[[policy]]\nsecret = "db"\nallow = []\n')).toContain('"policy[0].allow"');
    expect(loadError('policy = "no"\n')).toContain('"policy" must be an array of tables');
  });

  // forward: callers over ssh -R (test/agent/forwarded-policy.test.ts has the rules themselves).
  it('reads true or a list of hosts (lowercased, as ssh does), alone or with allow and confirm', () => {
    expect(load('[[policy]]\naccount = "github/work"\nforward = true\n').policy).toEqual([{ account: 'github/work', forward: true }]);
    expect(load('[[policy]]\nsecret = "ci/*"\nforward = ["Build1", "ci-*"]\nconfirm = false\n').policy).toEqual([{ secret: 'ci/*', forward: ['build1', 'ci-*'], confirm: false }]);
    expect(load('[[policy]]\naccount = "github/work"\nallow = ["/usr/bin/git"]\nforward = false\n').policy).toEqual([{ account: 'github/work', allow: ['/usr/bin/git'] }]);
  });

  it('names a wrong forward', () => {
    const why = 'must be true (callers over ssh from any host) or a non-empty list of hosts as given to ssh';
    expect(loadError('[[policy]]\naccount = "github/work"\nforward = "build1"\n')).toContain(`"policy[0].forward" ${why}`);
    expect(loadError('[[policy]]\naccount = "github/work"\nforward = []\n')).toContain('"policy[0].forward"');
    expect(loadError('[[policy]]\naccount = "github/work"\nforward = ["a b"]\n')).toContain('"policy[0].forward"');
    expect(loadError('[[policy]]\naccount = "github/work"\nforward = ["*.example.com"]\n')).toContain('"policy[0].forward"');
    expect(loadError('[[policy]]\naccount = "github/work"\nforward = false\n')).toContain('allow = ["/path/to/program", …], confirm = true, forward = true, or more of them');
  });
});

describe.runIf(process.platform === 'linux')('per-client policy on a real agent', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  const writeConfig = (text: string) => {
    const dir = join(sb.home, 'config/sigilforge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), text);
  };

  /** A script that runs its arguments and stays their parent (so it is the program that ran them). */
  const runner = (name: string): string => {
    mkdirSync(join(sb.home, 'bin'), { recursive: true });
    const path = join(sb.home, 'bin', name);
    writeFileSync(path, '#!/bin/bash\n"$@"\nexit $?\n');
    chmodSync(path, 0o755);
    return path;
  };

  it('serves the program allowed, refuses another (and a copy of node running sigil), and audits the refusal', async () => {
    const allowed = runner('allowed.sh');
    const other = runner('other.sh');
    const node = realpathSync(process.execPath);
    const copy = join(sb.home, 'bin/node-copy');
    copyFileSync(node, copy);
    chmodSync(copy, 0o755);
    writeConfig('[[policy]]\naccount = "github/work"\nallow = ["~/bin/allowed.sh"]\n\n[[policy]]\nsecret = "db/*"\nallow = ["~/bin/allowed.sh"]\n');
    await sb.startAgent();
    await sb.initAndUnlock();
    const viaAllowed = (args: string[], opts: { input?: string } = {}) => sb.exec(allowed, [process.execPath, BIN.sigil, ...args], opts);
    const viaOther = (args: string[], opts: { input?: string } = {}) => sb.exec(other, [process.execPath, BIN.sigil, ...args], opts);

    // Setting a policed value is a use too: it goes through the allowed program.
    expect((await viaAllowed(['token', 'set', 'github', 'work', '--stdin'], { input: 'ghp_policy0123456789\n' })).code).toBe(0);
    expect((await viaAllowed(['secret', 'set', 'db/prod', '--stdin'], { input: 'db-password\n' })).code).toBe(0);
    expect((await viaAllowed(['secret', 'set', 'api/key', '--stdin'], { input: 'api-value\n' })).code).toBe(0);
    expect(await viaAllowed(['token', 'get', 'github', 'work'])).toMatchObject({ code: 0, stdout: 'ghp_policy0123456789\n' });

    const refused = await viaOther(['token', 'get', 'github', 'work']);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(
      new RegExp(`^sigil: github/work may only be used by ~/bin/allowed\\.sh \\(policy in config\\.toml\\); the program that ran it is ${other} \\(sigil ← other\\.sh ← .*\\); to allow it, add "${other}" to allow\\n$`),
    );
    expect(refused.code).toBe(12);
    // sigil's own test process, or anything else that runs sigil, is not the program allowed.
    expect((await sb.sigil(['token', 'get', 'github', 'work'])).code).toBe(12);

    // The hot-path shim is refused the same way, and so is a copy of node running sigil:
    // it is no Sigilforge client (not node), so it is judged as itself.
    expect(await sb.exec(other, [process.execPath, BIN.token, 'github', 'work'])).toMatchObject({ code: 12, stdout: '' });
    const copied = await sb.exec(allowed, [copy, BIN.sigil, 'token', 'get', 'github', 'work']);
    expect(copied).toMatchObject({ code: 12, stdout: '' });
    expect(copied.stderr).toContain(`this client is ${realpathSync(copy)} (node-copy ← allowed.sh ← `);
    expect((await viaOther(['secret', 'get', 'db/prod'])).code).toBe(12);
    expect((await viaOther(['secret', 'set', 'db/new', '--stdin'], { input: 'x\n' })).code).toBe(12);

    // resolve finds the target in the reference.
    const ref = await viaOther(['resolve', 'auth://github/work']);
    expect(ref).toMatchObject({ code: 12, stdout: '' });
    expect(ref.stderr).toContain('github/work may only be used by');
    expect((await viaOther(['resolve', 'secret://db/prod'])).code).toBe(12);
    expect(await viaAllowed(['resolve', 'auth://github/work'])).toMatchObject({ code: 0, stdout: 'ghp_policy0123456789\n' });

    // A secret no rule names works from both; management ops are not policed.
    expect(await viaOther(['secret', 'get', 'api/key'])).toMatchObject({ code: 0, stdout: 'api-value\n' });
    expect(await viaAllowed(['secret', 'get', 'api/key'])).toMatchObject({ code: 0, stdout: 'api-value\n' });
    expect((await viaOther(['status', '--json'])).code).toBe(0);
    expect((await viaOther(['accounts', 'list'])).code).toBe(0);

    const by = (e: Record<string, unknown>) => (e.chain as string[] | undefined)?.[1];
    const entries = await auditUntil(sb, (e) => e.some((x) => x.op === 'resolve' && x.result === 'FORBIDDEN' && by(x) === other));
    expect(entries).toContainEqual(expect.objectContaining({ op: 'get_token', target: 'github/work', result: 'FORBIDDEN', exe: node, chain: expect.arrayContaining(['sigil', other]) }));
    expect(entries).toContainEqual(expect.objectContaining({ op: 'get_secret', target: 'secret://db/prod', result: 'FORBIDDEN', chain: expect.arrayContaining(['sigil', other]) }));
    expect(entries).toContainEqual(expect.objectContaining({ op: 'get_token', target: 'github/work', result: 'ok', chain: expect.arrayContaining(['sigil', allowed]) }));
    // Nothing the refused program asked for was served or changed.
    expect(entries.filter((x) => by(x) === other && x.result === 'ok').map((x) => x.target)).toEqual(['secret://api/key']);
    expect((await viaAllowed(['secret', 'get', 'db/new'])).code).toBe(7);
  });

  it('does not start with a bad [[policy]] entry, and says which', async () => {
    writeConfig('[[policy]]\naccount = "github/work"\nsecret = "db/*"\nallow = ["/usr/bin/git"]\n');
    const r = await sb.run(BIN.agent, ['-s']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"policy[0]" must be a table with exactly one of account');
  });
});
