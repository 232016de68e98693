import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { isLoopback, matchGitMapping, parseCredentialRequest } from '../../src/cli/git-credential.js';
import { ROOT, Sandbox, TEST_PASSPHRASE, eventually, which } from '../support/sandbox.js';

const HELPER = join(ROOT, 'dist/bin/git-credential-sigil.js');
const TOKEN = 'ghs_Q7gitHelperToken0123456789abcdef';
const hasGit = which('git');

describe('git credential request parsing and host mapping', () => {
  it('reads key=value lines up to the blank line', () => {
    expect(parseCredentialRequest('protocol=https\nhost=github.com\npath=a/b.git\n\nhost=evil\n')).toEqual({ protocol: 'https', host: 'github.com', path: 'a/b.git' });
    expect(parseCredentialRequest('protocol=https\r\nhost=x=y\r\n')).toEqual({ protocol: 'https', host: 'x=y' });
  });

  it('matches host, host:port and host/path, the most specific winning', () => {
    const git = {
      'github.com': { service: 'github', account: 'work' },
      'github.com/acme': { service: 'github', account: 'acme' },
      '127.0.0.1': { service: 'forge', account: 'any' },
      '127.0.0.1:8080': { service: 'forge', account: 'eighty' },
    };
    expect(matchGitMapping(git, 'github.com', undefined)?.account).toBe('work');
    expect(matchGitMapping(git, 'GitHub.com', 'acme/tools.git')?.account).toBe('acme');
    expect(matchGitMapping(git, 'github.com', 'acme.git')?.account).toBe('acme');
    expect(matchGitMapping(git, 'github.com', 'acmeinc/tools.git')?.account).toBe('work');
    expect(matchGitMapping(git, '127.0.0.1:8080', 'x')?.account).toBe('eighty');
    expect(matchGitMapping(git, '127.0.0.1:9', 'x')?.account).toBe('any');
    expect(matchGitMapping(git, 'gitlab.com', undefined)).toBeUndefined();
    expect(isLoopback('127.0.0.1:80')).toBe(true);
    expect(isLoopback('[::1]:80')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('127.0.0.1.example.com')).toBe(false);
  });
});

describe('config.toml [git]', () => {
  const load = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-gitcfg-'));
    try {
      writeFileSync(join(dir, 'config.toml'), text);
      return loadConfig(join(dir, 'config.toml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reads host = "service/account" and the table form', () => {
    expect(load('[git]\n"GitHub.com" = "github/work"\n"git.corp/team" = { account = "corp/me", username = "me@corp" }\n').git).toEqual({
      'github.com': { service: 'github', account: 'work' },
      'git.corp/team': { service: 'corp', account: 'me', username: 'me@corp' },
    });
    expect(load('').git).toBeUndefined();
  });

  it('names the key that is wrong, and says to quote dotted hosts', () => {
    expect(() => load('[git]\n"github.com" = "work"\n')).toThrow(/"git\.github\.com" must be "service\/account"/);
    expect(() => load('[git]\ngithub.com = "github/work"\n')).toThrow(/quote host names with dots/);
  });
});

/** A loopback git smart-HTTP server: `git http-backend` behind Basic auth that wants TOKEN. */
function gitHttpServer(projectRoot: string, env: Record<string, string>) {
  const seen: string[] = [];
  const expected = 'Basic ' + Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = req.headers.authorization;
    seen.push(auth === undefined ? 'none' : auth === expected ? 'good' : 'bad');
    if (auth !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgiEnv: Record<string, string> = {
      ...env,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: 'x-access-token',
      REMOTE_ADDR: '127.0.0.1',
    };
    if (req.headers['content-encoding']) cgiEnv.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
    if (req.headers['git-protocol']) cgiEnv.GIT_PROTOCOL = String(req.headers['git-protocol']);
    if (req.headers['content-length']) cgiEnv.CONTENT_LENGTH = String(req.headers['content-length']);
    const cgi = spawn('git', ['http-backend'], { env: cgiEnv, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => {});
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  return { server, seen };
}

describe.skipIf(!hasGit)('git-credential-sigil with real git and a real agent', () => {
  let sb: Sandbox;
  let http: ReturnType<typeof gitHttpServer>;
  let port: number;
  let gitEnv: Record<string, string>;

  beforeAll(async () => {
    sb = new Sandbox();
    await sb.startAgent();
    await sb.initAndUnlock();
    expect((await sb.sigil(['token', 'set', 'github', 'work', '--stdin'], { input: TOKEN })).code).toBe(0);
    const configDir = join(sb.env.XDG_CONFIG_HOME!, 'sigilforge');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'config.toml'), '[git]\n"127.0.0.1" = "github/work"\n"forge.example" = "forge/me"\n');

    // The helper as git runs it: an absolute path (git appends get|store|erase).
    const wrapper = join(sb.home, 'git-credential-sigil.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${HELPER}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    const gitconfig = join(sb.home, 'gitconfig');
    writeFileSync(gitconfig, `[credential]\n\thelper = ${wrapper}\n\tuseHttpPath = true\n[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n`);
    gitEnv = { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

    // A bare repository with one commit, served over loopback HTTP behind Basic auth.
    const work = join(sb.home, 'work');
    for (const args of [['init', '-q', work], ['-C', work, 'commit', '-q', '--allow-empty', '-m', 'hello from sigil'], ['clone', '-q', '--bare', work, join(sb.home, 'srv/repo.git')]]) {
      const r = await sb.exec('git', args, { env: gitEnv });
      expect(r.code, r.stderr).toBe(0);
    }
    http = gitHttpServer(join(sb.home, 'srv'), { ...sb.env, ...gitEnv });
    await new Promise<void>((r) => http.server.listen(0, '127.0.0.1', r));
    port = (http.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    http?.server.closeAllConnections();
    await new Promise((r) => http?.server.close(r));
    sb?.cleanup();
  });

  const helper = (action: string, input: string, env: Record<string, string> = {}) => sb.run(HELPER, [action], { input, env });

  it('answers `git credential fill` for a mapped host', async () => {
    const r = await sb.exec('git', ['credential', 'fill'], { input: `protocol=http\nhost=127.0.0.1:${port}\n\n`, env: gitEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('username=x-access-token\n');
    expect(r.stdout).toContain(`password=${TOKEN}\n`);
    expect(r.stderr).not.toContain(TOKEN);
  });

  it('clones over HTTP with Basic auth from the agent, and fails when the agent is locked', async () => {
    const dest = join(sb.home, 'clone1');
    const r = await sb.exec('git', ['clone', `http://127.0.0.1:${port}/repo.git`, dest], { env: gitEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(http.seen).toContain('none');
    expect(http.seen).toContain('good');
    const log = await sb.exec('git', ['-C', dest, 'log', '--format=%s'], { env: gitEnv });
    expect(log.stdout).toBe('hello from sigil\n');
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
    // The URL git stores never carries the credential.
    expect(readFileSync(join(dest, '.git/config'), 'utf8')).not.toContain(TOKEN);

    expect((await sb.sigil(['lock'])).code).toBe(0);
    const dest2 = join(sb.home, 'clone2');
    const locked = await sb.exec('git', ['clone', `http://127.0.0.1:${port}/repo.git`, dest2], { env: gitEnv });
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toMatch(/git-credential-sigil: github\/work: .*lock/i);
    expect(locked.stderr).not.toContain(TOKEN);
    expect(existsSync(join(dest2, '.git'))).toBe(false);

    await eventually(() => sb.auditEntries().some((e) => e.op === 'get_token' && e.client === 'git-credential-sigil'), 5000).catch(() => {});
    const audit = readFileSync(sb.auditPath, 'utf8');
    expect(audit).toContain('get_token');
    expect(audit).not.toContain(TOKEN);

    const unlock = await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' });
    expect(unlock.code, unlock.stderr).toBe(0);
  });

  it('passes (prints nothing, exits 0, says why) for what it cannot answer', async () => {
    const unmapped = await helper('get', 'protocol=https\nhost=example.org\n\n');
    expect(unmapped).toMatchObject({ code: 0, stdout: '' });
    expect(unmapped.stderr).toBe('git-credential-sigil: no account for example.org in config.toml [git]\n');

    const cleartext = await helper('get', 'protocol=http\nhost=forge.example\n\n');
    expect(cleartext).toMatchObject({ code: 0, stdout: '' });
    expect(cleartext.stderr).toContain('not sending a token over http to forge.example');

    const missing = await helper('get', 'protocol=https\nhost=forge.example\n\n');
    expect(missing).toMatchObject({ code: 0, stdout: '' });
    expect(missing.stderr).toMatch(/^git-credential-sigil: forge\/me: /);

    const noAgent = await helper('get', `protocol=http\nhost=127.0.0.1:${port}\n\n`, { SIGIL_AUTH_SOCK: join(sb.home, 'nope.sock') });
    expect(noAgent).toMatchObject({ code: 0, stdout: '' });
    expect(noAgent.stderr).toContain('no agent answers');

    for (const action of ['store', 'erase', 'some-future-action']) {
      expect(await helper(action, `protocol=http\nhost=127.0.0.1:${port}\nusername=x\npassword=y\n\n`)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    }
    expect((await helper('--help', '')).stdout).toContain('"github.com" = "github/work"');
    expect((await sb.run(HELPER, [], {})).code).toBe(2);
  });

  it('answers other services with the account name and the expiry of the token', async () => {
    expect((await sb.sigil(['token', 'set', 'forge', 'me', '--stdin', '--expires-in', '1h'], { input: 'forge_tok_1' })).code).toBe(0);
    const r = await helper('get', 'protocol=https\nhost=forge.example\n\n');
    expect(r.code).toBe(0);
    const m = /^username=me\npassword=forge_tok_1\npassword_expiry_utc=(\d+)\n$/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Math.abs(Number(m![1]) - (Date.now() / 1000 + 3600))).toBeLessThan(120);
    expect((await sb.sigil(['accounts', 'remove', 'forge', 'me'])).code).toBe(0);
  });

  it('serves github.com from the only github account without a [git] entry', async () => {
    const r = await helper('get', 'protocol=https\nhost=github.com\npath=someone/repo.git\n\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`username=x-access-token\npassword=${TOKEN}\n`);

    expect((await sb.sigil(['token', 'set', 'github', 'home', '--stdin'], { input: 'ghp_other' })).code).toBe(0);
    const two = await helper('get', 'protocol=https\nhost=github.com\n\n');
    expect(two).toMatchObject({ code: 0, stdout: '' });
    expect(two.stderr).toContain('several github accounts');
    expect((await sb.sigil(['accounts', 'remove', 'github', 'home'])).code).toBe(0);
  });
});
