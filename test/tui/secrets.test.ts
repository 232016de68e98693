import { beforeAll, describe, expect, it } from 'vitest';
import { agentSuite } from '../agent/helpers.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';
import { secretExpiryLabel, secretValueLines } from '../../src/tui/format.js';
import { fakeDeps, fakeStatus, KEY, mountApp, realDeps, type FakeHandlers, type Mounted } from './helpers.js';

const NOW_S = Math.floor(Date.now() / 1000);
const DAY_S = 86400;

interface FakeSecret {
  value: string | Uint8Array;
  expires_at?: number;
  /** Kept versions, oldest first: the value each one had. */
  history: { version: number; value: string | Uint8Array; replaced_at: number }[];
}

/** A fake agent holding secrets as the real one does (history numbered, rollback keeps the current value), recording every call. */
function secretsAgent(initial: Record<string, Partial<FakeSecret> & { value: string | Uint8Array }>) {
  const store = new Map<string, FakeSecret>(Object.entries(initial).map(([n, s]) => [n, { history: [], ...s }]));
  const calls: { op: string; args: Record<string, unknown> }[] = [];
  const rec = (op: string, args: object) => calls.push({ op, args: args as Record<string, unknown> });
  const must = (name: string) => {
    const s = store.get(name);
    if (!s) throw new SigilError(ErrorCode.NOT_FOUND, `secret "${name}" not found`);
    return s;
  };
  const keep = (s: FakeSecret, value: string | Uint8Array) => {
    const version = (s.history.at(-1)?.version ?? 0) + 1;
    s.history.push({ version, value, replaced_at: NOW_S - 60 + version });
    return version;
  };
  const handlers: FakeHandlers = {
    status: () => fakeStatus(),
    list_accounts: () => ({ accounts: [] }),
    list_secrets: (a) => {
      rec('list_secrets', a);
      const names = [...store.keys()].sort();
      return {
        names,
        expires_at: Object.fromEntries(names.filter((n) => store.get(n)!.expires_at !== undefined).map((n) => [n, store.get(n)!.expires_at!])),
        versions: Object.fromEntries(names.filter((n) => store.get(n)!.history.length).map((n) => [n, store.get(n)!.history.length])),
      };
    },
    get_secret: (a) => {
      rec('get_secret', a);
      return { name: a.name, value: must(a.name).value };
    },
    set_secret: (a) => {
      // The value as bytes the TUI sent, copied before it wipes them.
      const value = Buffer.from(a.value as Uint8Array).toString('utf8');
      rec('set_secret', { ...a, value });
      const old = store.get(a.name);
      if (old && a.overwrite === false) throw new SigilError(ErrorCode.ALREADY_EXISTS, `secret "${a.name}" already exists`);
      if (old) keep(old, old.value);
      store.set(a.name, { value, history: old?.history ?? [], ...(a.expires_at !== undefined ? { expires_at: a.expires_at } : {}) });
      return { name: a.name, created: !old };
    },
    delete_secret: (a) => {
      rec('delete_secret', a);
      must(a.name);
      store.delete(a.name);
      return { name: a.name, deleted: true };
    },
    secret_history: (a) => {
      rec('secret_history', a);
      const s = must(a.name);
      return { name: a.name, current_updated: NOW_S - 5, versions: [...s.history].reverse().map((v) => ({ version: v.version, replaced_at: v.replaced_at })) };
    },
    rollback_secret: (a) => {
      rec('rollback_secret', a);
      const s = must(a.name);
      const v = s.history.find((h) => h.version === a.version);
      if (!v) throw new SigilError(ErrorCode.NOT_FOUND, `secret "${a.name}" has no version ${a.version}`);
      const saved = keep(s, s.value);
      s.value = v.value;
      return { name: a.name, version: a.version, saved_as: saved };
    },
  };
  return { store, calls, handlers, ops: (op: string) => calls.filter((c) => c.op === op) };
}

/** Once the agent's state is known (the shell takes no tab key before), the Secrets tab. */
async function toSecrets(app: Mounted): Promise<void> {
  await app.waitFor('SERVICE');
  await app.press('3');
}

const rowOf = (frame: string, name: string) => frame.split('\n').find((l) => l.includes(name)) ?? '';
const selectedLine = (frame: string) => frame.split('\n').find((l) => l.includes('› ')) ?? '';

describe('secrets screen (fake agent)', () => {
  it('lists names, kept versions and expiry (past, soon, later, never) and asks for no value', async () => {
    const agent = secretsAgent({
      'api/openai': { value: 'sk-openai-never-shown', expires_at: NOW_S + 3 * DAY_S },
      'db/prod/password': { value: 'hunter2-never-shown', history: [1, 2].map((version) => ({ version, value: `old-${version}`, replaced_at: NOW_S - 100 })) },
      'old/token': { value: 'gone-never-shown', expires_at: NOW_S - DAY_S },
      'tls/key': { value: 'pem-never-shown', expires_at: NOW_S + 90 * DAY_S },
    });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      const frame = await app.waitFor('tls/key');
      expect(frame.split('\n')[0]).toMatch(/ 2 Audit log  3 Secrets$/);
      expect(frame).toMatch(/NAME\s+HISTORY\s+EXPIRES/);
      expect(rowOf(frame, 'api/openai')).toMatch(/api\/openai\s+—\s+in 3d/);
      expect(rowOf(frame, 'db/prod/password')).toMatch(/db\/prod\/password\s+2 versions\s+never/);
      expect(rowOf(frame, 'old/token')).toMatch(/old\/token\s+—\s+expired/);
      expect(rowOf(frame, 'tls/key')).toMatch(/tls\/key\s+—\s+in 90d/);
      expect(frame).toContain('value  ••••••••   (v reveals it; the agent audits that)');
      expect(frame).not.toContain('never-shown');
      expect(agent.ops('get_secret')).toEqual([]);
      // The tones: expired red, within a week yellow.
      expect(secretExpiryLabel(NOW_S - 1, NOW_S).tone).toBe('bad');
      expect(secretExpiryLabel(NOW_S + 3 * DAY_S, NOW_S).tone).toBe('warn');
      expect(secretExpiryLabel(NOW_S + 90 * DAY_S, NOW_S).tone).toBe('plain');
    } finally {
      await app.unmount();
    }
  });

  it('reveals the selected value only on v (one get_secret), hides it on v, on moving and on leaving', async () => {
    const agent = secretsAgent({ 'api/openai': { value: 'sk-openai-0123456789' }, 'db/password': { value: 'hunter2-db' } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('db/password');
      await app.press('v');
      let frame = await app.waitFor('sk-openai-0123456789');
      expect(frame).toContain('(v hides it)');
      expect(agent.ops('get_secret')).toEqual([{ op: 'get_secret', args: { name: 'api/openai' } }]);
      await app.press('v');
      frame = await app.waitFor('••••••••');
      expect(frame).not.toContain('sk-openai');

      await app.press('v');
      await app.waitFor('sk-openai-0123456789');
      await app.press('j'); // another secret: the value shown goes
      frame = await app.waitFor((f) => selectedLine(f).includes('db/password'));
      expect(frame).not.toContain('sk-openai');
      expect(frame).toContain('••••••••');

      await app.press('v');
      await app.waitFor('hunter2-db');
      await app.press('1', '3');
      frame = await app.waitFor('db/password');
      expect(frame).not.toContain('hunter2-db');
      expect(agent.ops('get_secret')).toHaveLength(3);
    } finally {
      await app.unmount();
    }
  });

  it('shows a binary value as its size and escapes control characters in text', async () => {
    const agent = secretsAgent({ 'a/bin': { value: new Uint8Array([0xff, 0x00, 0x1b, 0x80]) }, 'b/text': { value: 'line1\x1b]0;pwned\x07\nline2' } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('b/text');
      await app.press('v');
      await app.waitFor('binary, 4 bytes');
      await app.press('j', 'v');
      const frame = await app.waitFor('line2');
      expect(frame).toContain('line1\\x1b]0;pwned\\x07');
      expect(app.written().join('')).not.toContain('\x1b]0;pwned');
      expect(secretValueLines('a\nb\nc\nd\ne\n', 80)).toEqual(['a', 'b', 'c', '… 2 more lines']);
    } finally {
      await app.unmount();
    }
  });

  it('adds a secret with masked input: the value never reaches a frame, goes as bytes, and the new one is selected', async () => {
    // q, ?, l and 3 are the shell's keys: in the field they are text.
    const VALUE = 'sk-q?l3-typed-never-drawn';
    const agent = secretsAgent({ 'a/first': { value: 'x' }, 'z/last': { value: 'y' } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('z/last');
      await app.press('a');
      await app.waitFor('Add a secret');
      await app.type('bad name!');
      await app.press(KEY.enter);
      await app.waitFor('invalid secret name');
      await app.press('\x15'); // Ctrl-U clears the field
      await app.type('m/new');
      await app.press(KEY.enter);
      await app.waitFor('Value:');
      await app.type(VALUE);
      let frame = await app.waitFor(`Value: ${'•'.repeat(VALUE.length)}`);
      await app.press(KEY.enter);
      frame = await app.waitFor('Expires in: ');
      await app.type('30d');
      await app.press(KEY.enter);
      frame = await app.waitFor((f) => selectedLine(f).includes('m/new'));
      expect(frame).toMatch(/m\/new\s+—\s+in 30d/);
      expect(frame).toMatch(/Stored m\/new\. It expires \d{4}-/);
      const [set] = agent.ops('set_secret');
      expect(set!.args).toMatchObject({ name: 'm/new', value: VALUE, overwrite: false });
      expect(set!.args.expires_at as number).toBeGreaterThanOrEqual(NOW_S + 30 * DAY_S);
      for (const f of app.written()) expect(f).not.toContain(VALUE);
      // q typed into the field was text, not quit.
      expect(app.quits).toBe(0);
    } finally {
      await app.unmount();
    }
  });

  it('add refuses a name that exists (nothing replaced); e replaces the value, the old one kept as a version', async () => {
    const agent = secretsAgent({ 'db/password': { value: 'old-value', expires_at: NOW_S + 10 * DAY_S } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('db/password');
      await app.press('a');
      await app.type('db/password');
      await app.press(KEY.enter);
      await app.type('new-value');
      await app.press(KEY.enter, KEY.enter);
      await app.waitFor('already exists: to change its value, select it in the list and press e');
      expect(agent.store.get('db/password')!.value).toBe('old-value');
      expect(agent.ops('set_secret')[0]!.args.overwrite).toBe(false);

      await app.press(KEY.esc); // the name field: back to the list
      await app.waitFor((f) => selectedLine(f).includes('db/password'));
      await app.press('e');
      await app.waitFor('Replace the value of db/password');
      await app.type('new-value');
      await app.press(KEY.enter);
      await app.waitFor(/Now it expires \d{4}-/);
      await app.press(KEY.enter);
      const frame = await app.waitFor('Replaced db/password.');
      expect(rowOf(frame, 'db/password')).toMatch(/db\/password\s+1 version\s+never/);
      expect(agent.store.get('db/password')!.value).toBe('new-value');
      const replace = agent.ops('set_secret')[1]!.args;
      expect(replace).toMatchObject({ name: 'db/password', value: 'new-value', overwrite: true });
      expect(replace.expires_at).toBeUndefined();
    } finally {
      await app.unmount();
    }
  });

  it('refuses a lifetime that is no duration and an empty value, naming what is wrong', async () => {
    const agent = secretsAgent({});
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('No secrets yet');
      await app.press('a');
      await app.type('k');
      await app.press(KEY.enter, KEY.enter);
      await app.waitFor('The value is empty.');
      await app.type('v');
      await app.press(KEY.enter);
      await app.type('soon');
      await app.press(KEY.enter);
      await app.waitFor('expires in: "soon" is not a duration');
      await app.press('\x15');
      await app.type('4000d');
      await app.press(KEY.enter);
      await app.waitFor('expires in: "4000d" is more than 10 years (3650d)');
      expect(agent.ops('set_secret')).toEqual([]);
    } finally {
      await app.unmount();
    }
  });

  it('history lists the kept versions; Enter asks y/n — n changes nothing, y rolls back', async () => {
    const agent = secretsAgent({ 'db/password': { value: 'v3', history: [1, 2].map((version) => ({ version, value: `v${version}`, replaced_at: NOW_S - 100 + version })) } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('2 versions');
      await app.press('h');
      let frame = await app.waitFor('History of db/password');
      expect(frame).toContain('› db/password history');
      expect(frame).toMatch(/VERSION\s+REPLACED AT/);
      expect(frame).toMatch(/current value written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      const versions = frame.split('\n').map((l) => /^\s*(?:› )?\s*(\d+)\s+\d{4}-/.exec(l)?.[1]).filter(Boolean);
      expect(versions).toEqual(['2', '1']);
      expect(frame).not.toMatch(/\bv[123]\b/);

      await app.press('j', KEY.enter);
      await app.waitFor('Make version 1 of db/password current again?');
      await app.press('n');
      await app.waitFor('Nothing changed.');
      expect(agent.ops('rollback_secret')).toEqual([]);

      await app.press(KEY.enter);
      await app.waitFor('Make version 1 of db/password current again?');
      await app.press('y');
      frame = await app.waitFor('db/password is at version 1 again (the value it replaced is version 3).');
      expect(agent.ops('rollback_secret')).toEqual([{ op: 'rollback_secret', args: { name: 'db/password', version: 1 } }]);
      expect(agent.store.get('db/password')!.value).toBe('v1');
      // Reloaded: the value it replaced is the newest version, and the cursor is on it.
      expect(frame).toMatch(/^\s*› 3\s+\d{4}-/m);

      await app.press(KEY.esc);
      frame = await app.waitFor('3 versions');
      expect(selectedLine(frame)).toContain('db/password');
    } finally {
      await app.unmount();
    }
  });

  it('d asks y/n: n (or Esc) keeps the secret, y deletes it and its versions', async () => {
    const agent = secretsAgent({ 'a/keep': { value: 'x' }, 'b/doomed': { value: 'y', history: [{ version: 1, value: 'z', replaced_at: NOW_S }] } });
    const app = await mountApp(fakeDeps(agent.handlers));
    try {
      await toSecrets(app);
      await app.waitFor('b/doomed');
      await app.press('j', 'd');
      await app.waitFor(/Delete secret b\/doomed and its 1 version kept\?\s+y\/n/);
      await app.press('n');
      let frame = await app.waitFor('Nothing deleted.');
      expect(frame).toContain('b/doomed');
      await app.press('d');
      await app.waitFor('Delete secret b/doomed');
      await app.press(KEY.esc);
      await app.waitFor((f) => !f.includes('Delete secret'));
      expect(agent.ops('delete_secret')).toEqual([]);
      expect(agent.store.has('b/doomed')).toBe(true);

      await app.press('d');
      await app.waitFor('Delete secret b/doomed');
      await app.press('y');
      frame = await app.waitFor('Removed b/doomed and its 1 version kept.');
      expect(frame).not.toMatch(/^(› |  )b\/doomed /m); // no row of it
      expect(frame).toContain('a/keep');
      expect(agent.ops('delete_secret')).toEqual([{ op: 'delete_secret', args: { name: 'b/doomed' } }]);
    } finally {
      await app.unmount();
    }
  });

  it('a lock drops a revealed value: after unlocking it is masked again', async () => {
    let locked = false;
    const agent = secretsAgent({ 'api/key': { value: 'sk-revealed-before-lock' } });
    const app = await mountApp(fakeDeps({ ...agent.handlers, status: () => fakeStatus(locked), lock: () => ((locked = true), { was_locked: false }) }));
    try {
      await toSecrets(app);
      await app.waitFor('api/key');
      await app.press('v');
      await app.waitFor('sk-revealed-before-lock');
      await app.press('l');
      let frame = await app.waitFor('The agent is locked.');
      expect(frame).not.toContain('sk-revealed');
      locked = false;
      await app.waitFor('SERVICE');
      await toSecrets(app);
      frame = await app.waitFor('api/key');
      expect(frame).toContain('••••••••');
      expect(frame).not.toContain('sk-revealed');
    } finally {
      await app.unmount();
    }
  });
});

describe('secrets screen (real agent)', () => {
  const suite = agentSuite();
  beforeAll(async () => {
    for (const v of ['v1-real', 'v2-real', 'v3-real']) {
      const r = await suite.sb.sigil(['secret', 'set', 'db/prod/password', '--stdin'], { input: v });
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it('shows the versions the agent keeps, rolls back to one, and sigil secret get prints it', async () => {
    const { sb } = suite;
    const deps = realDeps(sb);
    const app = await mountApp(deps);
    try {
      await toSecrets(app);
      let frame = await app.waitFor(/db\/prod\/password\s+2 versions\s+never/);
      expect(frame).not.toContain('-real');
      await app.press('h');
      await app.waitFor(/› 2\s+\d{4}-/);
      await app.press('j', KEY.enter);
      await app.waitFor('Make version 1 of db/prod/password current again?');
      await app.press('y');
      frame = await app.waitFor('db/prod/password is at version 1 again (the value it replaced is version 3).');
      expect(frame).toMatch(/› 3\s+\d{4}-/);
      expect(frame).not.toContain('-real');
    } finally {
      await app.unmount();
    }
    expect((await sb.sigil(['secret', 'get', 'db/prod/password'])).stdout).toBe('v1-real\n');
    // Nothing but names reached the agent's log of the TUI's requests; no value was asked for.
    expect(deps.calls.filter((c) => c.op === 'get_secret')).toEqual([]);
    expect(JSON.stringify(sb.auditEntries())).not.toContain('-real');
  });
});

describe('secrets screen: a reveal a confirm = true rule names (real agent)', () => {
  const suite = agentSuite(() => '[[policy]]\nsecret = "db/*"\nconfirm = true\n');
  beforeAll(async () => {
    const r = await suite.sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'asked-first-0123' });
    expect(r.code, r.stderr).toBe(0);
  });

  it('the TUI asks itself: n keeps the value hidden and says so; y reveals it', async () => {
    const app = await mountApp(realDeps(suite.sb));
    try {
      await toSecrets(app);
      await app.waitFor('db/password');
      await app.press('v');
      let frame = await app.waitFor('Allow this use?');
      expect(frame).toMatch(/sigil-tui-test, pid \d+ wants the secret secret:\/\/db\/password/);
      await app.press('n');
      frame = await app.waitFor(/value\s+use of secret:\/\/db\/password was refused/);
      expect(frame).not.toContain('asked-first');

      await app.press('v');
      await app.waitFor('Allow this use?');
      await app.press('y');
      await app.waitFor(/value\s+asked-first-0123/);
    } finally {
      await app.unmount();
    }
  });
});
