import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../src/agent/caller/caller.js';
import { UNKNOWN_HOST } from '../../src/agent/caller/forwarded.js';
import { Policy } from '../../src/agent/policy.js';
import { loadConfig } from '../../src/config/config.js';
import { OP_CATALOG, OPS } from '../../src/protocol/op-catalog.js';
import { sigilErrorThrown } from '../support/errors.js';
import { ROOT } from '../support/sandbox.js';

/**
 * A caller forwarded from another machine (over `ssh -R`) is closed by default: hello, status
 * and lock, and get_token / get_secret / resolve only for what a [[policy]] rule's `forward`
 * opens, confirmed unless the rule says confirm = false. The end-to-end tests with a real
 * sshd are in test/cli/ssh.test.ts.
 */
const ssh = { pid: 4242, uid: 1000, gid: 1000, exe: '/usr/bin/ssh' };
/** The user's ssh client relaying a caller on `host`. */
const from = (host: string): Caller => ({ peer: ssh, chain: [], forwarded: { host } });
/** A local program that speaks the protocol itself. */
const localAs = (exe: string): Caller => ({ peer: { ...ssh, exe }, chain: [{ pid: ssh.pid, uid: ssh.uid, exe, program: exe }] });
const local = localAs('/usr/bin/ssh');
const token = { service: 'github', account: 'work' };

const refusal = sigilErrorThrown;

describe('Policy for forwarded callers', () => {
  it('lets hello, status and lock through and refuses every other op not opened, saying where to run it', () => {
    const p = new Policy([{ account: '*', forward: true, confirm: false }, { secret: '*', forward: true, confirm: false }]);
    for (const op of OPS) {
      const use = OP_CATALOG[op].forwarded;
      if (use === 'yes') expect(p.check(op, {}, from('build1'))).toBeUndefined();
      if (use === 'no') {
        const err = refusal(() => p.check(op, { ...token, name: 'x' }, from('build1')));
        expect(err.code).toBe('FORBIDDEN');
        expect(err.message).toBe(`${op} is not available to a caller on another machine (this connection is forwarded over ssh from build1); run it on the machine where the agent runs`);
      }
    }
    expect(OPS.filter((op) => OP_CATALOG[op].forwarded === 'yes')).toEqual(['hello', 'status', 'lock']);
    expect(OPS.filter((op) => OP_CATALOG[op].forwarded === 'opened')).toEqual(['get_token', 'get_secret', 'resolve']);
    for (const op of ['set_secret', 'set_token', 'delete_secret', 'remove_account', 'audit_tail', 'start_flow', 'unlock', 'passwd', 'answer_confirm'] as const) {
      expect(OP_CATALOG[op].forwarded).toBe('no');
    }
  });

  it('with no rule, refuses every value and says how to open it', () => {
    const p = new Policy();
    expect(refusal(() => p.check('get_token', token, from('build1'))).message).toBe(
      'github/work is not open to callers on other machines (this connection is forwarded over ssh from build1); to allow it, add to config.toml: [[policy]] account = "github/work" forward = ["build1"]',
    );
    expect(refusal(() => p.check('get_secret', { name: 'db/prod' }, from('build1'))).message).toContain('add to config.toml: [[policy]] secret = "db/prod" forward = ["build1"]');
    expect(refusal(() => p.check('resolve', { ref: 'secret://db/prod' }, from('build1'))).code).toBe('FORBIDDEN');
    // A host ssh's command line does not name can only be opened by forward = true.
    expect(refusal(() => p.check('get_token', token, from(UNKNOWN_HOST))).message).toContain('forward = true');
    // A local caller is not affected by forwarding at all.
    expect(p.check('get_token', token, local)).toBeUndefined();
  });

  it('opens per account and secret name, with prefixes, per host, with prefixes', () => {
    const p = new Policy([
      { account: 'github/ci-*', forward: ['build*', 'deploy.example.com'], confirm: false },
      { secret: 'ci/*', forward: true, confirm: false },
    ]);
    expect(p.check('get_token', { service: 'github', account: 'ci-bot' }, from('build7'))).toBeUndefined();
    expect(p.check('get_token', { service: 'github', account: 'ci-bot' }, from('deploy.example.com'))).toBeUndefined();
    expect(p.check('resolve', { ref: 'auth://github/ci-bot' }, from('build7'))).toBeUndefined();
    expect(refusal(() => p.check('get_token', { service: 'github', account: 'ci-bot' }, from('laptop'))).message).toContain('is not open to callers on other machines');
    expect(refusal(() => p.check('get_token', { service: 'github', account: 'ci-bot' }, from('deploy.example.com.evil'))).code).toBe('FORBIDDEN');
    expect(refusal(() => p.check('get_token', { service: 'github', account: 'work' }, from('build7'))).code).toBe('FORBIDDEN');
    expect(p.check('get_secret', { name: 'ci/npm' }, from('anywhere'))).toBeUndefined();
    expect(p.check('resolve', { ref: 'secret://ci/npm' }, from(UNKNOWN_HOST))).toBeUndefined();
    expect(refusal(() => p.check('get_secret', { name: 'cix' }, from('build7'))).code).toBe('FORBIDDEN');
    // Opened or not, a forwarded caller never writes.
    expect(refusal(() => p.check('set_secret', { name: 'ci/npm', value: 'x' }, from('build7'))).message).toContain('set_secret is not available to a caller on another machine');
  });

  it('hands out an access token, never the refresh token or another credential', () => {
    const p = new Policy([{ account: 'github/work', forward: true, confirm: false }]);
    expect(p.check('resolve', { ref: 'auth://github/work/access_token' }, from('build1'))).toBeUndefined();
    expect(refusal(() => p.check('resolve', { ref: 'auth://github/work/refresh_token' }, from('build1'))).message).toBe(
      'only the access token of github/work goes to another machine, not its refresh_token (this connection is forwarded over ssh from build1); resolve it on the machine where the agent runs',
    );
    // Arguments naming nothing are refused, not passed on.
    expect(refusal(() => p.check('get_token', {}, from('build1'))).code).toBe('FORBIDDEN');
    expect(refusal(() => p.check('resolve', { ref: 'bogus' }, from('build1'))).code).toBe('FORBIDDEN');
  });

  it('asks for each forwarded use unless the opening rule says confirm = false, and a matching confirm = true always asks', () => {
    expect(new Policy([{ account: 'github/work', forward: true }]).check('get_token', token, from('b'))).toEqual({ target: 'github/work' });
    expect(new Policy([{ account: 'github/work', forward: true, confirm: true }]).check('get_token', token, from('b'))).toEqual({ target: 'github/work' });
    expect(new Policy([{ account: 'github/work', forward: true, confirm: false }]).check('get_token', token, from('b'))).toBeUndefined();
    const strict = new Policy([{ account: 'github/work', forward: true, confirm: false }, { account: 'github/*', confirm: true }]);
    expect(strict.check('get_token', token, from('b'))).toEqual({ target: 'github/work' });
    // Locally a forward rule asks nothing unless it says confirm = true.
    expect(new Policy([{ account: 'github/work', forward: true }]).check('get_token', token, localAs('/usr/bin/node'))).toBeUndefined();
  });

  it('applies allow to local programs only: the forwarded caller is judged by forward', () => {
    const p = new Policy([{ account: 'github/work', allow: ['/usr/bin/git'], forward: ['build1'], confirm: false }]);
    expect(p.check('get_token', token, from('build1'))).toBeUndefined();
    expect(refusal(() => p.check('get_token', token, local)).message).toContain('may only be used by /usr/bin/git');
  });
});

describe("the README's forwarding example", () => {
  it('opens the CI account to build hosts without a question, and deploy secrets to any host with one', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf('## Using the agent on other machines');
    const toml = /```toml\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
    if (at < 0 || !toml) throw new Error('README has no forwarding example');
    const dir = mkdtempSync(join(tmpdir(), 'sigil-forward-readme-'));
    try {
      writeFileSync(join(dir, 'config.toml'), toml);
      const p = new Policy(loadConfig(join(dir, 'config.toml')).policy);
      expect(p.check('get_token', { service: 'github', account: 'ci-bot' }, from('build7'))).toBeUndefined();
      expect(refusal(() => p.check('get_token', { service: 'github', account: 'ci-bot' }, from('laptop'))).code).toBe('FORBIDDEN');
      expect(p.check('get_secret', { name: 'deploy/key' }, from('laptop'))).toEqual({ target: 'secret://deploy/key' });
      expect(refusal(() => p.check('get_token', token, from('build7'))).code).toBe('FORBIDDEN');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A vals expression reads this machine's files or runs vals here: never for a caller on another machine.
  it('refuses a forwarded caller every vals reference but a ref+sops its rule on age/identity opens', () => {
    const p = new Policy([{ secret: '*', forward: true, confirm: false }]);
    for (const ref of ['ref+file:///home/me/.ssh/id_ed25519', 'ref+vault://kv/prod#/pw']) {
      const err = refusal(() => p.check('resolve', { ref }, from('build1')));
      expect(err.code, ref).toBe('FORBIDDEN');
      expect(err.message).toContain('must name an account or secret');
    }
    expect(p.check('resolve', { ref: 'ref+sops:///srv/s.enc.yaml#/pw' }, from('build1'))).toBeUndefined();
    const closed = new Policy([{ secret: 'db/*', forward: true, confirm: false }]);
    expect(refusal(() => closed.check('resolve', { ref: 'ref+sops:///srv/s.enc.yaml#/pw' }, from('build1'))).message).toContain('secret://age/identity is not open');
  });

  // ref+sops decrypts with the device's identity: a rule limiting that secret limits it too.
  it('applies the rules on secret age/identity to ref+sops for local callers', () => {
    const p = new Policy([{ secret: 'age/identity', allow: ['/usr/bin/sops'] }]);
    expect(refusal(() => p.check('resolve', { ref: 'ref+sops:///srv/s.enc.yaml#/pw' }, localAs('/usr/bin/curl'))).code).toBe('FORBIDDEN');
    expect(p.check('resolve', { ref: 'ref+sops:///srv/s.enc.yaml#/pw' }, localAs('/usr/bin/sops'))).toBeUndefined();
    expect(p.check('resolve', { ref: 'ref+file:///srv/app.yaml' }, localAs('/usr/bin/curl'))).toBeUndefined();
  });
});
