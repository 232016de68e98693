import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox, TEST_PASSPHRASE, TEST_WORK_FACTOR } from '../support/sandbox.js';

describe('sigil CLI', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox();
  });
  afterEach(() => sb.cleanup());

  it('prints its help exactly', async () => {
    const r = await sb.sigil(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "Usage: sigil [options] [command]

      Sigilforge: credentials and OAuth tokens for developers and their scripts, held
      by sigil-agent

      Options:
        -V, --version            output the version number
        --direct                 no agent: this command decrypts the vault itself, and
                                 locks it when done
        --passphrase-stdin       with --direct: read the vault passphrase from the
                                 first line of stdin
        -h, --help               display help for command

      Commands:
        init [options]           create the vault (asks for a passphrase twice)
        unlock [options]         decrypt the vault into the agent
        lock                     drop every decrypted secret from the agent
        passwd [options]         change the vault passphrase
        rekey [options]          give the vault a new key (identity) and re-encrypt
                                 it; prints the new recipient
        status [options]         show whether the agent is locked, when it will lock,
                                 and what it holds
        secret                   free-form secrets (API keys, passwords)
        token                    access tokens of accounts
        accounts                 accounts and their health
        providers                OAuth providers: built-in presets and config.toml
        resolve [options] <ref>  print the value of an auth://, secret:// or vals
                                 ref+BACKEND:// reference
        check [options] <ref>    check that a reference is valid and resolvable,
                                 without printing it
        run [options]            run a command, resolving references in its
                                 environment
        ssh                      ssh to a host with the agent forwarded there
        sync [options]           sync the vault with the other devices over git (pull,
                                 merge, push)
        join [options] <remote>  take a synced vault onto this device: clone it and
                                 create this device's key
        device                   the devices a synced vault is encrypted to
        inject [options]         fill the {{ reference }} placeholders of a template
        age-key [options]        print the vault's age identity (for SOPS_AGE_KEY_CMD)
        audit [options]          show the audit log (newest last)
        logs [options]           show the background agent's log (newest last)
        tui                      full-screen UI: accounts, sign-ins, audit log, lock
        completion <shell>       print a shell completion script (bash, zsh or fish)
        help [command]           display help for command

      The agent is found through $SIGIL_AUTH_SOCK; start one with: eval "$(sigil-agent)"
      Exit codes: 0 ok, 1 internal error, 2 usage, 3 no agent, 4 locked,
        5 bad passphrase, 6 rate limited, 7 not found, 8 already exists,
        9 re-auth required, 10 provider error, 11 flow timeout, 12 forbidden,
        13 protocol mismatch, 14 sync remote failed
      "
    `);
  });

  it('exits 2 on usage errors, at any depth', async () => {
    expect((await sb.sigil(['bogus'])).code).toBe(2);
    const r = await sb.sigil(['token', 'get', 'github']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'account'");
    expect((await sb.sigil(['token', 'get', 'GitHub', 'work'])).stderr).toContain('invalid service name "GitHub"');
  });

  it('says how to start an agent when none answers', async () => {
    const r = await sb.sigil(['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`sigil: no agent answers at ${sb.socket} (no such socket) — start one with: eval "$(sigil-agent)"\n`);
    const t = await sb.run(BIN.token, ['github', 'work'], { env: { SIGIL_AUTH_SOCK: join(sb.home, 'nope.sock') } });
    expect(t.code).toBe(3);
    expect(t.stderr).toContain(`SIGIL_AUTH_SOCK=${join(sb.home, 'nope.sock')}`);
  });

  it('refuses to read a value when there is no terminal and no --stdin', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    // setsid: a new session has no controlling terminal, even when the tests run in one.
    const r = await sb.exec('setsid', ['-w', process.execPath, BIN.sigil, 'secret', 'set', 'api/key']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sigil: no terminal to ask on: pipe the value in with --stdin (or --passphrase-stdin), or set SIGIL_ASKPASS\n');
  });

  it('takes the passphrase from SIGIL_ASKPASS', async () => {
    await sb.startAgent();
    const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: TEST_PASSPHRASE });
    expect(init.code).toBe(0);
    const askpass = join(sb.home, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\n[ "$1" = "Vault passphrase: " ] || exit 1\nprintf '%s\\n' '${TEST_PASSPHRASE}'\n`);
    chmodSync(askpass, 0o700);
    const r = await sb.sigil(['unlock'], { env: { SIGIL_ASKPASS: askpass, SIGIL_ASKPASS_REQUIRE: 'force' } });
    expect(r).toMatchObject({ code: 0, stderr: 'Unlocked.\n' });
  });

  it('manages secrets, tokens and accounts with --json output', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['secret', 'set', 'db/prod/password', '--stdin'], { input: 's3cr3t-value\n' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'db/prod/password'])).stdout).toBe('s3cr3t-value\n');
    expect((await sb.sigil(['secret', 'set', 'db/prod/password', '--stdin', '--no-overwrite'], { input: 'x' })).code).toBe(8);
    expect(JSON.parse((await sb.sigil(['secret', 'list', 'db/', '--json'])).stdout)).toEqual(['db/prod/password']);
    expect((await sb.sigil(['resolve', 'secret://db/prod/password'])).stdout).toBe('s3cr3t-value\n');
    expect((await sb.sigil(['check', 'secret://db/prod/nope'])).code).toBe(7);
    expect((await sb.sigil(['check', 'secret://db//x'])).code).toBe(2);

    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin', '--expires-in', '90d'], { input: 'ghp_abc' })).code).toBe(0);
    expect((await sb.sigil(['token', 'get', 'github', 'work', '--format', 'header'])).stdout).toBe('Authorization: Bearer ghp_abc\n');
    const tok = JSON.parse((await sb.sigil(['token', 'get', 'github', 'work', '--json'])).stdout) as { expires_at: number };
    expect(tok.expires_at - Date.now() / 1000).toBeGreaterThan(89 * 86400);
    expect((await sb.sigil(['resolve', 'auth://github/work'])).stdout).toBe('ghp_abc\n');
    const accounts = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { service: string; status: string }[];
    expect(accounts).toMatchObject([{ service: 'github', account: 'work', kind: 'static', status: 'valid' }]);
    expect((await sb.sigil(['accounts', 'remove', 'github', 'work'])).code).toBe(0);
    expect((await sb.token('github', 'work')).code).toBe(7);

    const status = JSON.parse((await sb.sigil(['status', '--json'])).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ locked: false, accounts: 0, secrets: 1, socket: sb.socket, lock_timeout_s: 900 });
  });

  it('changes the passphrase: the old one stops working, the data stays', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await sb.sigil(['secret', 'set', 'k', '--stdin'], { input: 'v' });
    const p = await sb.sigil(['passwd', '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], { input: `${TEST_PASSPHRASE}\nnew passphrase\n` });
    expect(p.code).toBe(0);
    await sb.sigil(['lock']);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE })).code).toBe(5);
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'new passphrase' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'k'])).stdout).toBe('v\n');
  });

  it('shows the audit log newest last, with --json', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    await sb.sigil(['secret', 'set', 'k', '--stdin'], { input: 'value-never-logged' });
    await sb.sigil(['secret', 'get', 'k']);
    const entries = JSON.parse((await sb.sigil(['audit', '--json', '-n', '3'])).stdout) as { op: string; target?: string; client?: string }[];
    expect(entries.map((e) => e.op)).toEqual(['unlock', 'set_secret', 'get_secret']);
    expect(entries[2]).toMatchObject({ target: 'secret://k', result: 'ok', client: 'sigil' });
    expect((await sb.sigil(['audit'])).stdout).not.toContain('value-never-logged');
  });
});
