import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spacedCode } from '../../src/tui/format.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import { Sandbox } from '../support/sandbox.js';
import { agentWithConfig, fakeGithubProvider, writeConfig } from '../oauth/flow-helpers.js';
import { closedPort } from '../support/loopback-http.js';
import type { TuiDeps } from '../../src/tui/deps.js';
import { KEY, mountApp, realDeps, type Mounted } from './helpers.js';

/** The device code as the TUI shows it: spaced letters, e.g. "W D J B - M J H T". */
const SPACED_CODE = /([A-Z0-9] ){4}- ([A-Z0-9] ){3}[A-Z0-9]/;

/** a → provider github → name → scopes as prefilled → the flow kind list. */
async function toKindStep(app: Mounted, name: string): Promise<void> {
  await app.waitFor('SERVICE');
  await app.press('a');
  await app.waitFor(/› github\s+preset/);
  await app.press(KEY.enter);
  await app.waitFor('Account name for github:');
  await app.type(name);
  await app.press(KEY.enter);
  await app.waitFor('Scopes:');
  await app.press(KEY.enter);
  await app.waitFor('How to sign in:');
}

describe('add account (real agent, fake GitHub)', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeAll(async () => {
    gh = await startFakeGithub({ interval: 1 });
    sb = await agentWithConfig(fakeGithubProvider(gh));
  });
  afterAll(async () => {
    sb.cleanup();
    await gh.close();
  });

  async function accounts(): Promise<{ service: string; account: string; kind: string }[]> {
    return JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { service: string; account: string; kind: string }[];
  }

  it('shows the device code large with the verification URL, and Esc cancels the flow', async () => {
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await toKindStep(app, 'work');
      // No browser can come back here (preferred: device): the device flow is preselected.
      expect(app.lastFrame()).toMatch(/› device code/);
      await app.press(KEY.enter);
      const frame = await app.waitFor(SPACED_CODE);
      expect(frame).toContain(`${gh.endpoints.device_authorization_endpoint.replace(/\/login\/device\/code$/, '')}`);
      expect(frame).toContain('and enter this code');
      expect(frame).toContain('Waiting for the sign-in');
      expect(frame).toMatch(/[╔═╗]/); // the bordered box

      await app.press(KEY.esc);
      await app.waitFor('Sign-in cancelled.');
      expect(deps.calls.some((c) => c.op === 'cancel_flow')).toBe(true);
      expect(await app.run(accounts)).toEqual([]);
      await app.press(KEY.enter);
      await app.waitFor('No accounts yet');
    } finally {
      await app.unmount();
    }
  });

  it('completes a device sign-in approved elsewhere and shows the outcome', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await toKindStep(app, 'work');
      await app.press(KEY.enter);
      const frame = await app.waitFor(SPACED_CODE);
      const code = SPACED_CODE.exec(frame)![0].replace(/ /g, '');
      expect(spacedCode(code)).toBe(SPACED_CODE.exec(frame)![0]);
      gh.approveDevice(code);
      await app.waitFor('✔ Authorized github/work', 10_000);
      expect(app.lastFrame()).toContain('sigil-token github work');
      await app.press(KEY.enter);
      await app.waitFor(/github\s+work\s+oauth\s+valid/);
      expect(await app.run(accounts)).toMatchObject([{ service: 'github', account: 'work', kind: 'oauth' }]);
    } finally {
      await app.unmount();
    }
  });

  it('refuses to add an account that exists, and signs it in again with A', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await toKindStep(app, 'work');
      await app.press(KEY.enter);
      await app.waitFor('already exists');
      await app.press(KEY.esc);
      await app.waitFor(/› github\s+work/);
      await app.press('A');
      await app.waitFor('Sign in to github/work again');
      await app.press(KEY.enter); // device code, preselected
      const code = SPACED_CODE.exec(await app.waitFor(SPACED_CODE))![0].replace(/ /g, '');
      gh.approveDevice(code);
      await app.waitFor('✔ Authorized github/work', 10_000);
    } finally {
      await app.unmount();
    }
  });

  it('opens the browser for the authorization code flow', async () => {
    // The fake's authorize endpoint approves at once: following its redirect is the sign-in.
    const opened: string[] = [];
    const deps = realDeps(sb, {
      browser: () => ({ preferred: 'auth_code', canLaunch: true }),
      openUrl: async (url) => {
        opened.push(url);
        void fetch(url).catch(() => {});
        return true;
      },
    });
    const app = await mountApp(deps);
    try {
      await toKindStep(app, 'alt');
      expect(app.lastFrame()).toMatch(/› browser/);
      await app.press(KEY.enter);
      await app.waitFor('✔ Authorized github/alt', 10_000);
      expect(opened).toHaveLength(1);
      expect(opened[0]).toMatch(/code_challenge_method=S256/);
    } finally {
      await app.unmount();
    }
  });
});

describe('the sign-in URL (real agent, fake GitHub)', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeAll(async () => {
    gh = await startFakeGithub();
    sb = await agentWithConfig(fakeGithubProvider(gh));
  });
  afterAll(async () => {
    sb.cleanup();
    await gh.close();
  });

  /** ink-testing-library's terminal: 100 columns; 24 rows (the TUI's fallback). */
  const COLUMNS = 100;
  const ROWS = 24;
  const strip = (s: string) => s.replace(/\x1b\]8;;[^\x07]*\x07/g, '').replace(/\x1b\[[0-9;]*m/g, '');

  /** Starts a browser sign-in whose browser "did not start": the URL is what is left to use. */
  async function toAuthorizationUrl(overrides: Partial<TuiDeps> = {}): Promise<{ app: Mounted; url: string; deps: ReturnType<typeof realDeps> }> {
    const opened: string[] = [];
    const deps = realDeps(sb, {
      browser: () => ({ preferred: 'auth_code', canLaunch: true }),
      openUrl: async (u) => {
        opened.push(u);
        return false;
      },
      ...overrides,
    });
    const app = await mountApp(deps);
    await toKindStep(app, `u${Math.random().toString(36).slice(2, 8)}`);
    expect(app.lastFrame()).toMatch(/› browser/);
    await app.press(KEY.enter);
    await app.waitFor('Sign in to github by visiting:');
    expect(opened).toHaveLength(1);
    return { app, url: opened[0]!, deps };
  }

  it('shows the authorization URL whole on one line, not broken into indented pieces by ink', async () => {
    const { app, url } = await toAuthorizationUrl();
    try {
      expect(url.length).toBeGreaterThan(COLUMNS); // the terminal must wrap it
      const frame = await app.waitFor((f) => f.includes(url));
      const lines = frame.split('\n');
      expect(lines.filter((l) => l.includes('127.0.0.1'))).toEqual([` ${url}`]);
      // Ink's layout left room for the rows the terminal's wrap adds: blank rows on top (they
      // scroll away), so the tab bar ends up on the first row and nothing is pushed off screen.
      const spill = Math.ceil((1 + url.length) / COLUMNS) - 1;
      expect(lines.slice(0, spill).every((l) => l === '')).toBe(true);
      expect(lines[spill]).toMatch(/Sigilforge/);
      const rowsOnScreen = lines.reduce((n, l) => n + Math.max(1, Math.ceil(l.length / COLUMNS)), 0);
      expect(rowsOnScreen).toBe(ROWS + spill);
      expect(lines.at(-1)).toMatch(/UNLOCKED/);
    } finally {
      await app.unmount();
    }
  });

  it('wraps the URL in an OSC 8 hyperlink where the terminal has them, without moving the layout', async () => {
    const { app, url } = await toAuthorizationUrl({ hyperlinks: true });
    try {
      const frame = await app.waitFor((f) => f.includes(`\x1b]8;;${url}\x07${url}\x1b]8;;\x07`));
      const lines = frame.split('\n').map(strip);
      expect(lines.filter((l) => l.includes('127.0.0.1'))).toEqual([` ${url}`]);
      expect(lines.at(-1)).toMatch(/UNLOCKED/);
      expect(lines).toHaveLength(ROWS);
    } finally {
      await app.unmount();
    }
  });

  it('c copies the URL with OSC 52 (its exact base64) and says so', async () => {
    const { app, url } = await toAuthorizationUrl();
    try {
      await app.waitFor((f) => f.includes(url));
      await app.press('c');
      await app.waitFor('Copied the sign-in URL to the clipboard');
      const osc52 = app.written().filter((w) => w.startsWith('\x1b]52;'));
      expect(osc52).toEqual([`\x1b]52;c;${Buffer.from(url).toString('base64')}\x07`]);
    } finally {
      await app.unmount();
    }
  });

  it('copies the device flow\'s verification URI, shown on a line of its own', async () => {
    const app = await mountApp(realDeps(sb));
    try {
      await toKindStep(app, 'dev');
      expect(app.lastFrame()).toMatch(/› device code/);
      await app.press(KEY.enter);
      const frame = await app.waitFor(SPACED_CODE);
      const verification = `${gh.endpoints.device_authorization_endpoint.replace(/\/code$/, '')}`;
      expect(frame.split('\n')).toContain(` ${verification}`);
      await app.press('c');
      await app.waitFor('Copied the sign-in URL');
      const copied = app.written().filter((w) => w.startsWith('\x1b]52;c;')).map((w) => Buffer.from(w.slice(7, -1), 'base64').toString());
      expect(copied).toEqual([verification]);
      await app.press(KEY.esc);
      await app.waitFor('Sign-in cancelled.');
    } finally {
      await app.unmount();
    }
  });
});

describe('add account with a custom OpenID issuer (real agent, real oidc-provider)', () => {
  const ORIGINAL = '# hand-written\n[agent]\nlock_timeout = "15m"  # short\n';
  let op: OidcServer;
  let sb: Sandbox;
  beforeAll(async () => {
    op = await startOidcServer({ deviceInterval: 1 });
    sb = new Sandbox();
    writeConfig(sb, ORIGINAL);
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(async () => {
    sb?.cleanup();
    await op?.close();
  });

  const configText = () => readFileSync(join(sb.home, 'config/sigilforge/config.toml'), 'utf8');

  /** a → down to the last entry of the provider list, "Custom OpenID issuer…". */
  async function toCustomEntry(app: Mounted): Promise<void> {
    await app.waitFor('SERVICE');
    await app.press('a');
    await app.waitFor('Custom OpenID issuer…');
    for (let i = 0; i < 30 && !/› Custom OpenID issuer…/.test(app.lastFrame()); i++) await app.press(KEY.down);
    expect(app.lastFrame()).toMatch(/› Custom OpenID issuer…/);
  }

  it('asks for name, issuer, client id and scopes; shows a discovery failure inline; then signs in with the new provider', async () => {
    const port = await closedPort();
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await toCustomEntry(app);
      await app.press(KEY.enter);
      await app.waitFor('Provider name:');
      // A bad name is refused before anything is sent.
      await app.type('Corp');
      await app.press(KEY.enter);
      await app.waitFor('invalid service name');
      await app.press(KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace);
      await app.type('corp');
      await app.press(KEY.enter);
      await app.waitFor('Issuer URL:');
      // Esc goes back a step, with what was typed kept.
      await app.press(KEY.esc);
      await app.waitFor(/Provider name: corp/);
      await app.press(KEY.enter);
      await app.waitFor('Issuer URL:');

      // First an issuer where nothing listens: the agent's discovery error, inline.
      await app.type(`http://127.0.0.1:${port}`);
      await app.press(KEY.enter);
      await app.waitFor('Client id:');
      await app.type(op.clientId);
      await app.press(KEY.enter);
      const scopesFrame = await app.waitFor('Default scopes:');
      expect(scopesFrame).toMatch(/Default scopes: openid/);
      await app.press(KEY.enter);
      const failed = await app.waitFor(`discovery at http://127.0.0.1:${port} failed`, 10_000);
      expect(failed).toMatch(/Issuer URL: http:\/\/127\.0\.0\.1/); // back at the field to fix
      expect(configText()).toBe(ORIGINAL);

      // The right issuer: Ctrl-U clears the field.
      await app.press('\x15');
      await app.type(op.issuer);
      await app.press(KEY.enter);
      await app.waitFor(new RegExp(`Client id: ${op.clientId}`));
      await app.press(KEY.enter);
      await app.waitFor('Default scopes:');
      await app.press(KEY.enter);
      await app.waitFor('Account name for corp:', 10_000);
      expect(deps.calls.filter((c) => c.op === 'add_provider')).toHaveLength(2);
      const text = configText();
      expect(text.startsWith(ORIGINAL)).toBe(true);
      expect((parse(text) as { providers: Record<string, unknown> }).providers.corp).toEqual({ issuer: op.issuer, client_id: op.clientId, scopes: ['openid'] });

      // Esc from the account name: the new provider is in the list now.
      await app.press(KEY.esc);
      await app.waitFor(/› corp\s+config\.toml, discovery/);
      await app.press(KEY.enter);
      await app.waitFor('Account name for corp:');

      await app.type('alice');
      await app.press(KEY.enter);
      await app.waitFor(/Scopes: openid/);
      await app.press(KEY.enter);
      await app.waitFor('How to sign in:');
      expect(app.lastFrame()).toMatch(/› device code/);
      await app.press(KEY.enter);
      const frame = await app.waitFor(SPACED_CODE, 10_000);
      expect(frame).toContain('Waiting for the sign-in');
      expect(frame).toContain(op.issuer);
      expect(deps.calls.find((c) => c.op === 'start_flow')?.args).toMatchObject({ service: 'corp', account: 'alice', kind: 'device', scopes: ['openid'] });

      await app.press(KEY.esc);
      await app.waitFor('Sign-in cancelled.');
      expect(deps.calls.some((c) => c.op === 'cancel_flow')).toBe(true);
    } finally {
      await app.unmount();
    }
  });

  it('shows the agent\'s ALREADY_EXISTS at the name step, and Esc walks back to the list', async () => {
    // Added to config.toml by hand since the agent started: the list does not show it, the agent refuses it.
    writeConfig(sb, `${configText()}\n[providers.byhand]\nissuer = "${op.issuer}"\nclient_id = "x"\n`);
    const app = await mountApp(realDeps(sb));
    try {
      await toCustomEntry(app);
      await app.press(KEY.enter);
      // A name the list already shows is refused at once.
      await app.type('github');
      await app.press(KEY.enter);
      await app.waitFor('"github" is already a provider');
      await app.press('\x15');
      await app.type('byhand');
      await app.press(KEY.enter);
      await app.type(op.issuer);
      await app.press(KEY.enter);
      await app.type('x');
      await app.press(KEY.enter, KEY.enter);
      const frame = await app.waitFor('provider "byhand" already exists', 10_000);
      expect(frame).toMatch(/Provider name: byhand/);
      await app.press(KEY.esc);
      await app.waitFor(/› Custom OpenID issuer…/);
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
    } finally {
      await app.unmount();
    }
  });

  it('lands on the field the agent names as wrong (the error field, not its message): the issuer, the scopes', async () => {
    const before = configText();
    const app = await mountApp(realDeps(sb));
    try {
      await toCustomEntry(app);
      await app.press(KEY.enter);
      await app.type('fields');
      await app.press(KEY.enter);
      // Plain http off this machine: the agent refuses it (field "issuer").
      await app.type('http://login.example.com');
      await app.press(KEY.enter);
      await app.type('x');
      await app.press(KEY.enter, KEY.enter); // the client id, then the scopes as prefilled
      const issuer = await app.waitFor('must use https', 10_000);
      expect(issuer).toMatch(/Issuer URL: http:\/\/login\.example\.com/);
      await app.press('\x15'); // Ctrl-U
      await app.type(op.issuer);
      await app.press(KEY.enter, KEY.enter); // the issuer, then the client id as typed
      await app.waitFor(/Default scopes: openid/);
      await app.type(' é'); // a character no scope may hold (field "scopes")
      await app.press(KEY.enter);
      const scopes = await app.waitFor('argument "scopes" must be a list of scope names', 10_000);
      expect(scopes).toMatch(/Default scopes: openid é/);
      expect(configText()).toBe(before);
    } finally {
      await app.unmount();
    }
  });

  it('Esc while the issuer is being checked goes back to the scopes, and the late answer moves nothing', async () => {
    // A server that takes the connection and never answers: discovery hangs until it closes.
    const held: Socket[] = [];
    const srv = createServer((sock) => held.push(sock));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const before = configText();
    const app = await mountApp(realDeps(sb));
    try {
      await toCustomEntry(app);
      await app.press(KEY.enter);
      await app.type('slow');
      await app.press(KEY.enter);
      await app.type(`http://127.0.0.1:${port}`);
      await app.press(KEY.enter);
      await app.type('x');
      await app.press(KEY.enter, KEY.enter);
      await app.waitFor(`Checking http://127.0.0.1:${port} (discovery)`);
      await app.press(KEY.esc);
      await app.waitFor(/Default scopes: openid/);
      await app.run(async () => {
        for (const sock of held) sock.destroy();
        await new Promise<void>((r) => srv.close(() => r()));
      });
      await app.idle(300);
      expect(app.lastFrame()).toMatch(/Default scopes: openid/);
      expect(app.lastFrame()).not.toContain('discovery at');
      expect(configText()).toBe(before);
    } finally {
      await app.unmount();
      srv.close();
    }
  });
});
