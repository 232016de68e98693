import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { launchBrowser, loginAndConsent, type Decision, type TestBrowser } from '../support/browser.js';
import type { FakeGithub } from '../support/fake-github.js';
import { startOidcServer, type OidcServer, type OidcServerOptions } from '../support/oidc-server.js';
import { BIN, Sandbox, type RunResult } from '../support/sandbox.js';

/** A CLI command whose stderr is watched while it runs (it waits for a sign-in). */
export interface LiveCommand {
  child: ChildProcess;
  /** Resolves with the first stderr match of `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<RunResult>;
}

export function spawnSigil(sb: Sandbox, args: string[], env: Record<string, string> = {}): LiveCommand {
  const child = spawn(process.execPath, [BIN.sigil, ...args], { env: { ...sb.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid) sb.track(child.pid);
  let stdout = '';
  let stderr = '';
  const watchers: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of [...watchers]) {
      const m = stderr.match(w.re);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    done,
    waitFor(re, timeoutMs = 15_000) {
      const m = stderr.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in stderr within ${timeoutMs} ms; stderr so far: ${stderr}`)), timeoutMs);
        watchers.push({
          re,
          resolve: (mm) => {
            clearTimeout(timer);
            resolve(mm);
          },
        });
      });
    },
  };
}

export function writeConfig(sb: Sandbox, toml: string): void {
  const dir = join(sb.home, 'config/sigilforge');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.toml'), toml);
}

/** A new sandbox whose agent runs unlocked with config.toml `toml`. */
export async function agentWithConfig(toml: string): Promise<Sandbox> {
  const sb = new Sandbox();
  writeConfig(sb, toml);
  await sb.startAgent();
  await sb.initAndUnlock();
  return sb;
}

/** config.toml's [providers.github] pointing at the fake (client_id "Iv1.sigiltest"). */
export function fakeGithubProvider(gh: FakeGithub): string {
  const e = gh.endpoints;
  return `[providers.github]\nclient_id = "Iv1.sigiltest"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\ndevice_authorization_endpoint = "${e.device_authorization_endpoint}"\n`;
}

/** config.toml's [providers.corp]: the real OpenID provider, by discovery, scopes openid. */
export function oidcProvider(op: OidcServer): string {
  return `[providers.corp]\nissuer = "${op.issuer}"\nclient_id = "${op.clientId}"\nscopes = ["openid"]\n`;
}

/**
 * A $BROWSER that follows redirects headlessly (for fakes whose authorize endpoint approves at
 * once): it fetches the URL, and the redirect lands on the agent's loopback callback.
 */
export function followingBrowser(sb: Sandbox): string {
  const path = join(sb.home, 'follow-browser.sh');
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" -e 'fetch(process.argv[1]).then(r => r.text()).catch(() => {})' "$1" >/dev/null 2>&1\n`);
  chmodSync(path, 0o700);
  return path;
}

/**
 * Makes an OAuth account's access token due now, keeping its refresh token: set_token with a
 * placeholder access token that expires at once. Fresh tokens are never due (the agent
 * refreshes at min(5 min, half the lifetime) left), so tests and the bench that need a refresh
 * on the next use say so with this instead of waiting.
 */
export async function makeDue(sb: Sandbox, service: string, account: string): Promise<void> {
  const c = await AgentClient.connect({ socketPath: sb.socket });
  try {
    await c.request('set_token', { service, account, access_token: 'expired-placeholder', expires_in: 0 });
  } finally {
    c.close();
  }
}

/** What oidcSuite() hands a test: the provider, the browser, this test's sandbox, and a sign-in. */
export interface OidcSuite {
  readonly op: OidcServer;
  readonly browser: TestBrowser;
  readonly sb: Sandbox;
  /** `sigil accounts add corp ACCOUNT --browser`, Chromium signing in as ACCOUNT and consenting. */
  signIn(account: string, decision?: Decision): Promise<RunResult>;
}

/**
 * A real OpenID provider and headless Chromium for the calling suite, and for each test a
 * fresh sandbox whose agent is unlocked, with [providers.corp] pointing at the provider
 * (scopes ["openid"]) after `configHead` (e.g. an [agent] table).
 */
export function oidcSuite(opts: { provider?: OidcServerOptions; configHead?: (sb: Sandbox) => string } = {}): OidcSuite {
  let op: OidcServer | undefined;
  let browser: TestBrowser | undefined;
  let sb: Sandbox | undefined;
  beforeAll(async () => {
    op = await startOidcServer(opts.provider);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await op?.close();
  });
  beforeEach(async () => {
    sb = new Sandbox();
    writeConfig(sb, `${opts.configHead?.(sb) ?? ''}[providers.corp]\nissuer = "${op!.issuer}"\nclient_id = "${op!.clientId}"\nscopes = ["openid"]\n`);
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterEach(() => sb?.cleanup());
  return {
    get op() {
      return op!;
    },
    get browser() {
      return browser!;
    },
    get sb() {
      return sb!;
    },
    async signIn(account, decision = 'approve') {
      const cmd = spawnSigil(sb!, ['accounts', 'add', 'corp', account, '--browser', '--no-open']);
      const [, url] = await cmd.waitFor(/\n {2}(http:\/\/\S+)\n/);
      await loginAndConsent(browser!.context, url!, { login: account, decision });
      return cmd.done;
    },
  };
}
