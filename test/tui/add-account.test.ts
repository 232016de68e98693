import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spacedCode } from '../../src/tui/format.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { Sandbox } from '../support/sandbox.js';
import { writeConfig } from '../oauth/flow-helpers.js';
import { KEY, mountApp, realDeps, type Mounted } from './helpers.js';

/** The device code as the TUI shows it: spaced letters, e.g. "W D J B - M J H T". */
const SPACED_CODE = /([A-Z0-9] ){4}- ([A-Z0-9] ){3}[A-Z0-9]/;

describe('add account (real agent, fake GitHub)', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeAll(async () => {
    gh = await startFakeGithub({ interval: 1 });
    sb = new Sandbox();
    const e = gh.endpoints;
    writeConfig(
      sb,
      `[providers.github]\nclient_id = "Iv1.sigiltest"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\ndevice_authorization_endpoint = "${e.device_authorization_endpoint}"\n`,
    );
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(async () => {
    sb.cleanup();
    await gh.close();
  });

  async function accounts(): Promise<{ service: string; account: string; kind: string }[]> {
    return JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { service: string; account: string; kind: string }[];
  }

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

  it('shows the device code large with the verification URL, and Esc cancels the flow', async () => {
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await toKindStep(app, 'work');
      // No browser can come back here (canOpenBrowser false): the device flow is preselected.
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
      canOpenBrowser: () => true,
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
