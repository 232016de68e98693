import { AgentClient } from '../client/agent-client.js';
import { loadConfig, type GitMapping } from '../config/config.js';
import { SigilError } from '../protocol/errors.js';
import { sigilPaths } from '../util/paths.js';
import { terminalText } from '../util/terminal-text.js';
import { VERSION } from '../version.js';

/**
 * git-credential-sigil: git's credential-helper protocol (gitcredentials(7), git-credential(1))
 * answered from the agent, so `git clone https://github.com/…` uses an account's token.
 *
 *   [credential]
 *       helper = sigil          # git runs `git-credential-sigil get|store|erase`
 *
 * `get` reads the request (key=value lines up to a blank line or EOF), picks an account from
 * config.toml's [git] table — `"github.com" = "github/work"`, keys `host`, `host:port` or
 * `host[:port]/path` (the path needs `credential.useHttpPath`), the longest match winning —
 * or, with no entry, for github.com the only `github` account if there is exactly one. It asks
 * the agent for a token (get_token: refreshed when due) and answers `username` (x-access-token
 * for github, oauth2 for gitlab, else the account name, or the entry's `username`), `password`
 * and `password_expiry_utc`.
 *
 * Whenever it cannot answer — no entry, no agent, agent locked, account needing sign-in — it
 * prints nothing and exits 0, with one line on stderr saying why: git then asks its next
 * helper (or the terminal), as the protocol intends. A token is only ever sent to https, or to
 * plain http on a loopback address (as DESIGN.md allows for providers).
 *
 * `store` and `erase` are accepted and ignored: the agent owns the token's life (refresh,
 * rotation, revocation), so git must not copy it into another store, and a token git saw
 * rejected is better re-authorized with `sigil accounts authorize` than forgotten.
 */
export const USAGE = `usage: git-credential-sigil get|store|erase

A git credential helper answering from sigil-agent. In ~/.gitconfig:

  [credential]
      helper = sigil

config.toml maps hosts to accounts (host, host:port or host/path; paths need
credential.useHttpPath = true; the longest match wins):

  [git]
  "github.com" = "github/work"
  "gitlab.example.com" = "gitlab/me"
  "github.com/acme" = { account = "github/acme", username = "x-access-token" }

Without an entry, github.com uses the only "github" account if there is exactly
one. The username is x-access-token for github, oauth2 for gitlab, else the
account name. When it cannot answer (unmapped host, no agent, locked agent) it
prints nothing and exits 0, so git tries its next helper. store and erase are
ignored: sigil-agent manages the tokens.
`;

const NAME = 'git-credential-sigil';

export type CredentialRequest = Record<string, string>;

/** key=value lines up to the first blank line (or the end). Array keys (`wwwauth[]`) keep their last value. */
export function parseCredentialRequest(text: string): CredentialRequest {
  const req: CredentialRequest = {};
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    req[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return req;
}

/** Reads stdin until a blank line or EOF, as git's own helpers do. */
export function readRequest(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = () => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', done);
      stdin.removeListener('error', reject);
      stdin.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.startsWith('\n') || text.includes('\n\n') || text.includes('\n\r\n')) done();
    };
    stdin.on('data', onData);
    stdin.once('end', done);
    stdin.once('error', reject);
  });
}

/** Host without its port: `127.0.0.1:8080` → `127.0.0.1`, `[::1]:80` → `::1`. */
function hostname(host: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1]!;
  return host.replace(/:\d+$/, '');
}

export function isLoopback(host: string): boolean {
  const h = hostname(host).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The [git] entry for a request: host, host:port or host[:port]/path; the longest path, then host:port, wins. */
export function matchGitMapping(git: Record<string, GitMapping>, host: string, path: string | undefined): GitMapping | undefined {
  const full = host.toLowerCase();
  const bare = hostname(full);
  const reqPath = (path ?? '').replace(/^\/+|\/+$/g, '');
  let best: { score: number; m: GitMapping } | undefined;
  for (const [key, m] of Object.entries(git)) {
    const slash = key.indexOf('/');
    const keyHost = slash < 0 ? key : key.slice(0, slash);
    const keyPath = slash < 0 ? '' : key.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    let score: number;
    if (keyHost === full) score = 1;
    else if (keyHost === bare) score = 0;
    else continue;
    if (keyPath) {
      const p = reqPath.toLowerCase();
      const kp = keyPath.toLowerCase();
      if (!(p === kp || p.startsWith(kp + '/') || p === kp + '.git')) continue;
      score += 2 * (kp.length + 1);
    }
    if (!best || score > best.score) best = { score, m };
  }
  return best?.m;
}

export function defaultUsername(m: GitMapping): string {
  if (m.username) return m.username;
  if (m.service === 'github') return 'x-access-token';
  if (m.service === 'gitlab') return 'oauth2';
  return m.account;
}

/** Why no answer was given: printed on stderr, git goes on to its next helper. */
class Pass extends Error {}

async function answer(req: CredentialRequest, env: NodeJS.ProcessEnv): Promise<string> {
  const protocol = (req.protocol ?? '').toLowerCase();
  const host = req.host ?? '';
  if (!host) throw new Pass('no host in the request');
  if (protocol !== 'https' && !(protocol === 'http' && isLoopback(host))) {
    throw new Pass(`not sending a token over ${protocol || 'an unknown protocol'} to ${host} (https only; plain http only to loopback)`);
  }
  const config = loadConfig(sigilPaths(env).config);
  let mapping = matchGitMapping(config.git ?? {}, host, req.path);
  const client = await AgentClient.connect({ clientName: NAME, env });
  try {
    if (!mapping && hostname(host).toLowerCase() === 'github.com') {
      const { accounts } = await client.call('list_accounts', { service: 'github' });
      if (accounts.length !== 1) {
        throw new Pass(
          accounts.length === 0
            ? 'no github account in sigil (add one, or map github.com in config.toml [git])'
            : `several github accounts (${accounts.map((a) => a.account).join(', ')}): choose one in config.toml [git], e.g. "github.com" = "github/${accounts[0]!.account}"`,
        );
      }
      mapping = { service: 'github', account: accounts[0]!.account };
    }
    if (!mapping) throw new Pass(`no account for ${host} in config.toml [git]`);
    const token = await client.call('get_token', { service: mapping.service, account: mapping.account }).catch((err: unknown) => {
      if (err instanceof SigilError) throw new Pass(`${mapping!.service}/${mapping!.account}: ${err.message}`);
      throw err;
    });
    const username = defaultUsername(mapping);
    const bad = (s: string) => /[\n\r\0]/.test(s) || s === '';
    if (bad(token.access_token) || bad(username)) throw new Pass(`${mapping.service}/${mapping.account}: the token cannot be passed to git (it contains a line break)`);
    let out = `username=${username}\npassword=${token.access_token}\n`;
    // git ≥ 2.41 then never stores it past its expiry in another helper; older gits ignore it.
    if (typeof token.expires_at === 'number') out += `password_expiry_utc=${Math.floor(token.expires_at)}\n`;
    return out;
  } finally {
    client.close();
  }
}

function write(fd: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => fd.write(text, () => resolve()));
}

export async function gitCredentialMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const action = argv[0];
  if (action === '-h' || action === '--help') {
    await write(process.stdout, USAGE);
    return 0;
  }
  if (action === '-V' || action === '--version') {
    await write(process.stdout, `${NAME} ${VERSION}\n`);
    return 0;
  }
  if (action === undefined || argv.length > 1) {
    process.stderr.write(`${NAME}: expected one action: get, store or erase\n${USAGE}`);
    return 2;
  }
  const text = await readRequest();
  // store, erase and any action a later git invents: accepted, ignored (gitcredentials(7)).
  if (action !== 'get') return 0;
  try {
    await write(process.stdout, await answer(parseCredentialRequest(text), env));
  } catch (err) {
    // Never the token: messages here come from Pass, SigilError (no secrets by contract) or config.
    const reason = err instanceof Pass || err instanceof SigilError ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}`;
    process.stderr.write(`${NAME}: ${terminalText(reason, { lines: true })}\n`);
  }
  return 0;
}
