/**
 * The OS keyring store against a real gnome-keyring on a private D-Bus session bus
 * (test/support/keyring-session.ts), cross-checked with secret-tool.
 *
 * libdbus reads DBUS_SESSION_BUS_ADDRESS once per process, so this process talks to one
 * keyring (set before first use); the error cases (no D-Bus, no Secret Service, locked)
 * each run the store in a child process with its own environment.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  KEYRING_BASE64_PREFIX,
  KEYRING_INDEX_KEY,
  KEYRING_SERVICE,
  openKeyringStore,
  type KeyringStore,
} from '../../src/stores/keyring-store.js';
import { sigilErrorOf } from '../support/errors.js';
import { keyringSkipReason, startKeyringSession, useKeyringInThisProcess, type KeyringSession } from '../support/keyring-session.js';
import { auditUntil } from '../agent/helpers.js';
import { eventually, isAlive, ROOT, Sandbox } from '../support/sandbox.js';
import { describeSecretStoreContract } from './store-contract.js';

const SKIP = keyringSkipReason();
if (SKIP) console.warn(`keyring-store.test.ts skipped: ${SKIP}`);

const DIST_STORE = join(ROOT, 'dist/stores/keyring-store.js');
const K = (name: string) => `sigilforge/_secret/${name}`;
const NO_BUS = 'the OS keyring is not available: no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)';
const NO_SERVICE = 'the OS keyring is not available: no Secret Service on the session bus';
const LOCKED =
  'the OS keyring is locked: unlock it (e.g. log in to your desktop, or gnome-keyring-daemon --unlock) and try again';

let serviceCounter = 0;
const freshService = () => `sigilforge-test-${process.pid}-${serviceCounter++}`;

interface ChildOutcome {
  code: number | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

/**
 * Runs the built store in a child process with exactly `env`. Steps, one per line of
 * output as JSON: "probe" opens the store; "hold" opens it, sets a key, prints ready and
 * waits for a line on stdin, then tries get/set/delete and a second open.
 */
function runChild(
  step: 'probe' | 'hold',
  env: Record<string, string>,
  onReady?: () => Promise<void>,
): Promise<ChildOutcome> {
  const code = `
    import { createInterface } from 'node:readline';
    const { openKeyringStore } = await import(${JSON.stringify(pathToFileURL(DIST_STORE).href)});
    const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
    const attempt = async (what, fn) => {
      try { out({ what, ok: true, result: await fn() }); }
      catch (e) { out({ what, ok: false, code: e.code, message: e.message }); }
    };
    const service = process.argv[1];
    if (${JSON.stringify(step)} === 'probe') {
      await attempt('open', async () => { const s = await openKeyringStore({ service }); await s.close(); return 'opened'; });
    } else {
      const store = await openKeyringStore({ service });
      await store.set('k', Buffer.from('before-lock'));
      out({ what: 'ready', ok: true });
      const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      await lines.next();
      await attempt('get', async () => (await store.get('k'))?.toString() ?? null);
      await attempt('set', () => store.set('k2', Buffer.from('v')));
      await attempt('delete', () => store.delete('k'));
      await attempt('open', async () => { const s = await openKeyringStore({ service }); await s.close(); return 'opened'; });
      await store.close();
    }
    process.exit(0);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, freshService()], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (onReady && stdout.includes('"what":"ready"')) {
        const go = onReady;
        onReady = undefined;
        go().then(
          () => child.stdin.write('go\n'),
          (err: unknown) => {
            child.kill('SIGKILL');
            reject(err);
          },
        );
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code: exitCode, lines, stderr });
    });
  });
}

function outcome(r: ChildOutcome, what: string): Record<string, unknown> {
  const line = r.lines.find((l) => l.what === what);
  if (!line) throw new Error(`no "${what}" from the child (exit ${r.code}): ${r.stderr}`);
  return line;
}

describe.skipIf(SKIP !== null)(`OS keyring store${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  const keyring = useKeyringInThisProcess();
  let session: KeyringSession;
  beforeAll(() => {
    session = keyring();
  });

  describeSecretStoreContract(
    'KeyringStore (gnome-keyring)',
    async () => {
      const service = freshService();
      return { store: await openKeyringStore({ service }), reopen: () => openKeyringStore({ service }) };
    },
    { numRuns: 12 },
  );

  describe('items in the keyring', () => {
    const stores: KeyringStore[] = [];
    const open = async (service: string) => {
      const s = await openKeyringStore({ service });
      stores.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
    });
    const lookup = (service: string, key: string) => session.secretTool(['lookup', 'service', service, 'username', key]);

    it('keeps each value as an item secret-tool finds, and an index of the keys', async () => {
      const service = freshService();
      const store = await open(service);
      await store.set(K('db/password'), Buffer.from('s3cr3t pässwörd'));
      await store.set('sigilforge/github/work/access_token', Buffer.from('gho_abc'));

      const item = await lookup(service, K('db/password'));
      expect(item.code).toBe(0);
      expect(item.stdout).toBe('s3cr3t pässwörd');
      expect((await lookup(service, 'sigilforge/github/work/access_token')).stdout).toBe('gho_abc');
      const index = await lookup(service, KEYRING_INDEX_KEY);
      expect(JSON.parse(index.stdout)).toEqual([K('db/password'), 'sigilforge/github/work/access_token']);

      // Attributes as documented: service + username, readable by any Secret Service client.
      const search = await session.secretTool(['search', '--all', 'service', service, 'username', K('db/password')]);
      expect(search.stdout + search.stderr).toContain(`attribute.username = ${K('db/password')}`);

      expect(await store.delete(K('db/password'))).toBe(true);
      expect((await lookup(service, K('db/password'))).code).not.toBe(0);
      expect(JSON.parse((await lookup(service, KEYRING_INDEX_KEY)).stdout)).toEqual(['sigilforge/github/work/access_token']);
    });

    it('stores text as text and anything else as marked base64', async () => {
      const service = freshService();
      const store = await open(service);
      const binary = Buffer.from([0xc3, 0x28, 0xff, 0x00, 0x01]);
      const lookalike = Buffer.from(`${KEYRING_BASE64_PREFIX}aGVsbG8=`);
      await store.set(K('bin'), binary);
      await store.set(K('lookalike'), lookalike);
      expect((await lookup(service, K('bin'))).stdout).toBe(KEYRING_BASE64_PREFIX + binary.toString('base64'));
      expect((await lookup(service, K('lookalike'))).stdout).toBe(KEYRING_BASE64_PREFIX + lookalike.toString('base64'));
      expect(await store.get(K('bin'))).toEqual(binary);
      expect(await store.get(K('lookalike'))).toEqual(lookalike);
    });

    it('reads values another Secret Service client wrote, and survives a new process view', async () => {
      const service = freshService();
      const store = await open(service);
      await store.set(K('x'), Buffer.from('one'));
      const w = await session.secretTool(['store', '--label=changed elsewhere', 'service', service, 'username', K('x')], 'two');
      expect(w.code).toBe(0);
      expect((await store.get(K('x')))?.toString()).toBe('two');
      const again = await open(service);
      expect(await again.list('')).toEqual([K('x')]);
      expect((await again.get(K('x')))?.toString()).toBe('two');
    });

    it('keeps the index whole under concurrent writes', async () => {
      const service = freshService();
      const store = await open(service);
      const keys = Array.from({ length: 20 }, (_, i) => K(`c${String(i).padStart(2, '0')}`));
      await Promise.all(keys.map((k) => store.set(k, Buffer.from(k))));
      await Promise.all([...keys.slice(0, 5).map((k) => store.delete(k)), store.set(K('late'), Buffer.from('l'))]);
      const expected = [...keys.slice(5), K('late')].sort();
      expect(await store.list('')).toEqual(expected);
      expect(JSON.parse((await lookup(service, KEYRING_INDEX_KEY)).stdout)).toEqual(expected);
      const again = await open(service);
      expect(await again.list('')).toEqual(expected);
      for (const k of expected) expect((await again.get(k))?.toString()).toBe(k === K('late') ? 'l' : k);
    });

    it('serves more keys than it keeps entries for (64), and finishes accepted writes on close', async () => {
      const service = freshService();
      const store = await openKeyringStore({ service });
      const keys = Array.from({ length: 70 }, (_, i) => K(`many${String(i).padStart(2, '0')}`));
      for (const k of keys) await store.set(k, Buffer.from(`v-${k}`));
      for (const k of keys.slice(0, 8)) expect((await store.get(k))?.toString()).toBe(`v-${k}`); // evicted, reopened
      const pending = store.set(K('last'), Buffer.from('written'));
      await store.close();
      await pending;
      expect((await lookup(service, K('last'))).stdout).toBe('written');
      const again = await open(service);
      expect(again.size()).toBe(71);
    });

    it('lists a key whose item vanished (crash between writes) until it is deleted', async () => {
      const service = freshService();
      const store = await open(service);
      await store.set(K('gone'), Buffer.from('v'));
      expect((await session.secretTool(['clear', 'service', service, 'username', K('gone')])).code).toBe(0);
      expect(await store.get(K('gone'))).toBeNull();
      expect(await store.list('')).toEqual([K('gone')]);
      expect(await store.delete(K('gone'))).toBe(false);
      expect(await store.list('')).toEqual([]);
      expect(JSON.parse((await lookup(service, KEYRING_INDEX_KEY)).stdout)).toEqual([]);
    });

    it('refuses the index item as a key, and a corrupt index with a way out', async () => {
      const service = freshService();
      const store = await open(service);
      expect((await sigilErrorOf(store.set(KEYRING_INDEX_KEY, Buffer.from('x')))).code).toBe('BAD_REQUEST');
      await session.secretTool(['store', '--label=x', 'service', service, 'username', KEYRING_INDEX_KEY], '{not json');
      const err = await sigilErrorOf(openKeyringStore({ service }));
      expect(err.code).toBe('INTERNAL');
      expect(err.message).toContain('the keyring index');
      expect(err.message).toContain(`secret-tool clear service ${service} username ${KEYRING_INDEX_KEY}`);
    });

    it('uses service "sigilforge" by default', async () => {
      expect(KEYRING_SERVICE).toBe('sigilforge');
      const store = await open(KEYRING_SERVICE);
      await store.set(K('default-service'), Buffer.from('here'));
      expect((await lookup('sigilforge', K('default-service'))).stdout).toBe('here');
      expect(await store.delete(K('default-service'))).toBe(true);
    });
  });

  describe('when the keyring cannot be used', () => {
    beforeAll(() => {
      if (!existsSync(DIST_STORE)) throw new Error(`${DIST_STORE} is missing: run npm run build`);
    });
    const extraSessions: KeyringSession[] = [];
    afterEach(async () => {
      for (const s of extraSessions.splice(0)) await s.stop();
    });

    it('says there is no D-Bus session when DBUS_SESSION_BUS_ADDRESS is unset', async () => {
      const { DBUS_SESSION_BUS_ADDRESS: _, ...env } = session.env;
      const r = await runChild('probe', env);
      expect(outcome(r, 'open')).toMatchObject({ ok: false, code: 'INTERNAL', message: NO_BUS });
    });

    it('says there is no D-Bus session when the address leads nowhere', async () => {
      const address = `unix:path=${join(session.dir, 'no-such-bus')}`;
      const r = await runChild('probe', { ...session.env, DBUS_SESSION_BUS_ADDRESS: address });
      expect(outcome(r, 'open')).toMatchObject({
        ok: false,
        code: 'INTERNAL',
        message: `the OS keyring is not available: no D-Bus session (cannot connect to DBUS_SESSION_BUS_ADDRESS=${address})`,
      });
    });

    it('says there is no Secret Service on a bus without one', async () => {
      const bare = await startKeyringSession({ keyring: 'none' });
      extraSessions.push(bare);
      const r = await runChild('probe', bare.env);
      expect(outcome(r, 'open')).toMatchObject({ ok: false, code: 'INTERNAL', message: NO_SERVICE });
    });

    it('says the keyring is locked when the collection is locked under an open store', async () => {
      const other = await startKeyringSession();
      extraSessions.push(other);
      const r = await runChild('hold', other.env, () => other.lock());
      expect(outcome(r, 'ready')).toMatchObject({ ok: true });
      for (const what of ['get', 'set', 'delete', 'open']) {
        expect(outcome(r, what)).toMatchObject({ ok: false, code: 'INTERNAL', message: LOCKED });
      }
    });

    it('says the keyring is locked when it was never unlocked', async () => {
      const other = await startKeyringSession({ keyring: 'never-unlocked' });
      extraSessions.push(other);
      const r = await runChild('probe', other.env);
      const open = outcome(r, 'open');
      expect(open).toMatchObject({ ok: false, code: 'INTERNAL' });
      expect(String(open.message)).toMatch(/^the OS keyring is locked\b.*gnome-keyring-daemon --unlock/);
    });
  });

  describe('agent with storage.primary = "keyring"', () => {
    let sb: Sandbox | undefined;
    afterEach(() => sb?.cleanup());

    /** An unlocked agent whose config.toml says primary = "keyring", on this keyring. */
    const keyringAgent = async (): Promise<Sandbox> => {
      const box = (sb = new Sandbox()); // cleaned up after the test even if the start fails
      box.env.DBUS_SESSION_BUS_ADDRESS = session.address;
      mkdirSync(join(box.env.XDG_CONFIG_HOME!, 'sigilforge'), { recursive: true });
      writeFileSync(join(box.env.XDG_CONFIG_HOME!, 'sigilforge', 'config.toml'), '[storage]\nprimary = "keyring"\n');
      await box.startAgent();
      await box.initAndUnlock();
      return box;
    };

    it('stores and serves secrets through the keyring, and serves nothing once locked', async () => {
      sb = await keyringAgent();

      const value = `keyring-e2e-${process.pid}-value`;
      expect((await sb.sigil(['secret', 'set', 'e2e/token', '--stdin'], { input: value + '\n' })).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'e2e/token'])).stdout).toBe(value + '\n');
      const item = await session.secretTool(['lookup', 'service', 'sigilforge', 'username', K('e2e/token')]);
      expect(item.stdout).toBe(value);
      expect(JSON.parse((await sb.sigil(['secret', 'list', '--json'])).stdout)).toContain('e2e/token');

      // The vault is only the gate: the value is not in any of its files.
      const dataDir = join(sb.env.XDG_DATA_HOME!, 'sigilforge');
      const files = readdirSync(dataDir);
      expect(files).toContain('vault.age');
      for (const f of files) expect(readFileSync(join(dataDir, f)).includes(value)).toBe(false);

      expect((await sb.sigil(['lock'])).code).toBe(0);
      const locked = await sb.sigil(['secret', 'get', 'e2e/token']);
      expect(locked.code).toBe(4);
      expect(locked.stdout).not.toContain(value);
      // Still in the keyring: locking the agent does not delete, it stops serving.
      expect((await session.secretTool(['lookup', 'service', 'sigilforge', 'username', K('e2e/token')])).stdout).toBe(value);

      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'wrong passphrase\n' })).code).toBe(5);
      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' })).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'e2e/token'])).stdout).toBe(value + '\n');
      expect((await sb.sigil(['secret', 'rm', 'e2e/token'])).code).toBe(0);
      expect((await session.secretTool(['lookup', 'service', 'sigilforge', 'username', K('e2e/token')])).code).not.toBe(0);
    });

    it('binary values survive set/get through the keyring (256 random bytes)', async () => {
      sb = await keyringAgent();
      const value = randomBytes(256);
      value[0] = 0xff; // never in UTF-8: certainly not text

      expect((await sb.sigil(['secret', 'set', 'e2e/bin', '--stdin'], { input: value })).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'e2e/bin'])).stdoutBytes.equals(value)).toBe(true);
      // Kept as marked base64 in the item, so any Secret Service client reads it back whole.
      const item = await session.secretTool(['lookup', 'service', 'sigilforge', 'username', K('e2e/bin')]);
      expect(item.stdout).toBe(KEYRING_BASE64_PREFIX + value.toString('base64'));
      expect((await sb.sigil(['secret', 'set', 'e2e/bin', '--stdin'], { input: 'text now' })).code).toBe(0);
      expect((await sb.sigil(['secret', 'rollback', 'e2e/bin', '1'])).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'e2e/bin'])).stdoutBytes.equals(value)).toBe(true);
    });

    it('moves what the vault held before the switch into the keyring, once', async () => {
      sb = new Sandbox();
      sb.env.DBUS_SESSION_BUS_ADDRESS = session.address;
      const value = `moved-${process.pid}-value`;
      const stop = async (pid: number) => {
        process.kill(pid, 'SIGTERM');
        await eventually(() => !isAlive(pid));
      };
      let pid = await sb.startAgent();
      await sb.initAndUnlock();
      expect((await sb.sigil(['secret', 'set', 'moved/one', '--stdin'], { input: value + '\n' })).code).toBe(0);
      expect((await sb.sigil(['token', 'set', 'gitlab', 'me', '--stdin'], { input: 'glpat-moved\n' })).code).toBe(0);
      await stop(pid);

      const config = join(sb.env.XDG_CONFIG_HOME!, 'sigilforge', 'config.toml');
      mkdirSync(join(sb.env.XDG_CONFIG_HOME!, 'sigilforge'), { recursive: true });
      writeFileSync(config, '[storage]\nprimary = "keyring"\n');
      pid = await sb.startAgent();
      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' })).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'moved/one'])).stdout).toBe(value + '\n');
      expect((await sb.token('gitlab', 'me')).stdout).toBe('glpat-moved\n');
      expect((await session.secretTool(['lookup', 'service', 'sigilforge', 'username', K('moved/one')])).stdout).toBe(value);
      const entries = await auditUntil(sb, (es) => es.some((e) => e.op === 'move_to_keyring'));
      expect(entries.find((e) => e.op === 'move_to_keyring')).toMatchObject({ target: '2 entries from the vault', result: 'ok' });

      // Moved, not copied: back on the vault, it holds nothing of it (and says so).
      await stop(pid);
      writeFileSync(config, '');
      await sb.startAgent();
      expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' })).code).toBe(0);
      expect((await sb.sigil(['secret', 'get', 'moved/one'])).code).toBe(7);
    });

    it('fails the unlock with the reason when the keyring cannot be used', async () => {
      sb = new Sandbox();
      sb.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(session.dir, 'no-such-bus')}`;
      mkdirSync(join(sb.env.XDG_CONFIG_HOME!, 'sigilforge'), { recursive: true });
      writeFileSync(join(sb.env.XDG_CONFIG_HOME!, 'sigilforge', 'config.toml'), '[storage]\nprimary = "keyring"\n');
      await sb.startAgent();
      const init = await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], {
        input: 'correct horse battery staple\n',
      });
      expect(init.code).toBe(0);
      const unlock = await sb.sigil(['unlock', '--passphrase-stdin'], { input: 'correct horse battery staple\n' });
      expect(unlock.code).toBe(1);
      expect(unlock.stderr).toContain('the OS keyring is not available: no D-Bus session (cannot connect to');
      expect((await sb.status()).locked).toBe(true);
    });
  });
});
