/**
 * The remembered vault passphrase against a real gnome-keyring on a private D-Bus session
 * bus, cross-checked with secret-tool. libdbus reads DBUS_SESSION_BUS_ADDRESS once per
 * process: it is set before the first keyring call. The error cases (no D-Bus, a locked
 * keyring) are in test/agent/login-unlock.test.ts, through the agent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  forgetPassphrase,
  recallPassphrase,
  REMEMBERED_SERVICE,
  rememberPassphrase,
  unlockAtLoginEnabled,
  type RememberedPaths,
} from '../../src/stores/remembered-passphrase.js';
import { sigilErrorOf } from '../support/errors.js';
import { keyringSkipReason, useKeyringInThisProcess } from '../support/keyring-session.js';

const SKIP = keyringSkipReason();
if (SKIP) console.warn(`remembered-passphrase.test.ts skipped: ${SKIP}`);

describe.skipIf(SKIP !== null)(`remembered vault passphrase${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  const keyring = useKeyringInThisProcess();
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function vaultDir(): RememberedPaths {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-remembered-'));
    dirs.push(dir);
    return { vault: join(dir, 'vault.age'), unlockAtLogin: join(dir, 'unlock-at-login') };
  }

  const lookup = (paths: RememberedPaths) => keyring().secretTool(['lookup', 'service', REMEMBERED_SERVICE, 'username', paths.vault]);

  it('keeps the passphrase in one item per vault, and a secret-free marker next to the vault', async () => {
    const a = vaultDir();
    const b = vaultDir();
    expect(unlockAtLoginEnabled(a)).toBe(false);
    await rememberPassphrase(a, Buffer.from('first vault pass'));
    await rememberPassphrase(b, Buffer.from('second vault pass'));

    expect((await lookup(a)).stdout).toBe('first vault pass');
    expect((await lookup(b)).stdout).toBe('second vault pass');
    expect(unlockAtLoginEnabled(a)).toBe(true);
    expect(statSync(a.unlockAtLogin).mode & 0o777).toBe(0o600);
    const marker = readFileSync(a.unlockAtLogin, 'utf8');
    expect(marker.split('\n')).toHaveLength(2); // one line
    expect(JSON.parse(marker)).toEqual({ keyring: { service: REMEMBERED_SERVICE, username: a.vault } });
    expect(marker).not.toContain('pass');

    const recalled = await recallPassphrase(a);
    expect(recalled.toString()).toBe('first vault pass');

    await rememberPassphrase(a, Buffer.from('changed'));
    expect((await recallPassphrase(a)).toString()).toBe('changed');
  });

  it('round-trips a passphrase that is not UTF-8', async () => {
    const paths = vaultDir();
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3]);
    await rememberPassphrase(paths, bytes);
    expect(await recallPassphrase(paths)).toEqual(bytes);
  });

  it('does not read an item without the marker, and says how to remember one', async () => {
    const paths = vaultDir();
    // An item someone stored by hand is not an opt-in.
    expect((await keyring().secretTool(['store', '--label=x', 'service', REMEMBERED_SERVICE, 'username', paths.vault], 'by hand')).code).toBe(0);
    const err = await sigilErrorOf(recallPassphrase(paths));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe('no passphrase is remembered for this vault — run: sigil unlock --remember');

    // A marker whose item was removed behind our back: the same answer.
    const other = vaultDir();
    writeFileSync(other.unlockAtLogin, '{}\n');
    expect((await sigilErrorOf(recallPassphrase(other))).code).toBe('NOT_FOUND');
  });

  it('forgets the marker and the item, and says when there was nothing', async () => {
    const paths = vaultDir();
    await rememberPassphrase(paths, Buffer.from('to forget'));
    expect(await forgetPassphrase(paths)).toBe(true);
    expect(existsSync(paths.unlockAtLogin)).toBe(false);
    expect((await lookup(paths)).code).not.toBe(0);
    expect(await forgetPassphrase(paths)).toBe(false);

    // An item left without its marker (a crash between the two writes) is removed too.
    expect((await keyring().secretTool(['store', '--label=x', 'service', REMEMBERED_SERVICE, 'username', paths.vault], 'stray')).code).toBe(0);
    expect(await forgetPassphrase(paths)).toBe(true);
    expect((await lookup(paths)).code).not.toBe(0);
  });
});
