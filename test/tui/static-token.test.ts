import { describe, expect, it } from 'vitest';
import { agentSuite } from '../agent/helpers.js';
import { KEY, mountApp, realDeps, type Mounted } from './helpers.js';

const TOKEN = 'sk-proj-q?l3-typed-in-the-tui-0123';

/** a → the last entry of the provider list (the static token) → its form. */
async function toStaticForm(app: Mounted): Promise<void> {
  await app.waitFor('SERVICE');
  await app.press('a');
  await app.waitFor('Static token or API key…');
  await app.press(KEY.pageDown, KEY.pageDown);
  await app.waitFor(/› Static token or API key…/);
  await app.press(KEY.enter);
  await app.waitFor('Add a static token or API key');
}

describe('add screen: a static token or API key (real agent)', () => {
  const suite = agentSuite();

  it('stores it as sigil token set does: masked as typed, its type and lifetime, usable by sigil-token', async () => {
    const { sb } = suite;
    const app = await mountApp(realDeps(sb));
    try {
      await toStaticForm(app);
      await app.type('Open AI');
      await app.press(KEY.enter);
      await app.waitFor('invalid service name');
      await app.press('\x15');
      await app.type('openai');
      await app.press(KEY.enter);
      await app.waitFor('Account name for openai:');
      await app.type('work');
      await app.press(KEY.enter);
      await app.waitFor('Token:');
      await app.type(TOKEN);
      await app.waitFor(`Token: ${'•'.repeat(TOKEN.length)}`);
      await app.press(KEY.enter);
      await app.waitFor('Type: Bearer');
      await app.press('\x15');
      await app.type('Bad Type');
      await app.press(KEY.enter);
      await app.waitFor('The type is one word of "Authorization: TYPE TOKEN"');
      await app.press('\x15');
      await app.type('token');
      await app.press(KEY.enter);
      await app.waitFor('Expires in:');
      await app.type('90d');
      await app.press(KEY.enter);
      const frame = await app.waitFor('Stored a token for openai/work. Use it with: sigil-token openai work');
      await app.waitFor(/openai\s+work\s+static\s+valid/);
      for (const f of app.written()) expect(f).not.toContain(TOKEN);
      expect(frame).not.toContain('sk-proj');
      expect(app.quits).toBe(0);
    } finally {
      await app.unmount();
    }
    const tok = await sb.token('openai', 'work');
    expect(tok.code, tok.stderr).toBe(0);
    expect(tok.stdout).toBe(TOKEN + '\n');
    const header = await sb.sigil(['token', 'get', 'openai', 'work', '--format', 'header']);
    expect(header.stdout).toBe(`Authorization: token ${TOKEN}\n`);
    const [acct] = JSON.parse((await sb.sigil(['accounts', 'list', '--json'])).stdout) as { kind: string; expires_at: number }[];
    expect(acct!.kind).toBe('static');
    expect(acct!.expires_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 89 * 86400);
    expect(JSON.stringify(sb.auditEntries())).not.toContain(TOKEN);
  });

  it('refuses an account that exists before the token is typed (nothing replaced); Esc goes back to the list', async () => {
    const { sb } = suite;
    const app = await mountApp(realDeps(sb));
    try {
      await toStaticForm(app);
      await app.type('openai');
      await app.press(KEY.enter);
      await app.type('work');
      await app.press(KEY.enter);
      await app.waitFor('account openai/work already exists (remove it first, or use another name)');
      expect(app.lastFrame()).not.toContain('Token:');
      await app.press(KEY.esc, KEY.esc);
      await app.waitFor(/› Static token or API key…/);
      await app.press(KEY.esc);
      await app.waitFor('SERVICE');
    } finally {
      await app.unmount();
    }
    expect((await sb.token('openai', 'work')).stdout).toBe(TOKEN + '\n');
  });
});
