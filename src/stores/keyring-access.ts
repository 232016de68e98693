/**
 * The plumbing every use of the OS keyring shares (the keyring store, the remembered vault
 * passphrase): loading `@napi-rs/keyring`, entries pinned to Secret Service on Linux, the
 * session-bus check, and errors that say which part is missing.
 *
 * On Linux entries are pinned to Secret Service: the library's silent fallback to the
 * kernel keyutils store keeps values in memory only. No D-Bus, no Secret Service, or a
 * locked collection is an error that says which, never a fallback.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { probeSessionBus } from './session-bus-probe.js';

type KeyringModule = typeof import('@napi-rs/keyring');

const ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

const NOT_AVAILABLE = 'the OS keyring is not available';
const UNLOCK_HINT = 'unlock it (e.g. log in to your desktop, or gnome-keyring-daemon --unlock) and try again';

/** A checked way into the keyring: entries, and calls whose errors say what is missing. */
export interface KeyringAccess {
  /** A new entry (service, username); creating one opens a D-Bus connection (≈5 ms). */
  entry(service: string, username: string): AsyncEntry;
  /** Runs `fn` (which may throw synchronously, as the entry constructor does), mapping errors. */
  call<T>(fn: () => T | Promise<T>): Promise<T>;
}

/**
 * Checks for a session bus and loads the library. Nothing is asked of the Secret Service
 * yet: the first call does that (and fails with the reason).
 */
export async function openKeyringAccess(): Promise<KeyringAccess> {
  // libdbus reads DBUS_SESSION_BUS_ADDRESS from this process's environment (once).
  const env = process.env;
  checkSessionBus(env);
  await probeBus(env);
  const lib = await loadKeyring();
  const errors = (err: unknown) => keyringError(err, env);
  return {
    entry: (service, username) => new lib.AsyncEntry(service, username, ENTRY_OPTIONS),
    call: async (fn) => {
      try {
        return await fn();
      } catch (err) {
        throw errors(err);
      }
    },
  };
}

function checkSessionBus(env: NodeJS.ProcessEnv): void {
  if (process.platform === 'darwin' || process.platform === 'win32') return;
  if (env.DBUS_SESSION_BUS_ADDRESS) return;
  // libdbus also finds a systemd user bus at $XDG_RUNTIME_DIR/bus by itself.
  if (env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus'))) return;
  throw new SigilError(ErrorCode.INTERNAL, `${NOT_AVAILABLE}: no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)`);
}

/** See session-bus-probe.ts: libdbus would block the agent on a bus that never answers. */
async function probeBus(env: NodeJS.ProcessEnv): Promise<void> {
  if (process.platform === 'darwin' || process.platform === 'win32') return;
  const address = env.DBUS_SESSION_BUS_ADDRESS || (env.XDG_RUNTIME_DIR ? `unix:path=${join(env.XDG_RUNTIME_DIR, 'bus')}` : '');
  if (address) await probeSessionBus(address);
}

async function loadKeyring(): Promise<KeyringModule> {
  try {
    return await import('@napi-rs/keyring');
  } catch (err) {
    throw new SigilError(ErrorCode.INTERNAL, `${NOT_AVAILABLE}: @napi-rs/keyring could not be loaded (${reason(err)})`, {
      cause: err,
    });
  }
}

/**
 * The library's error as one that says which part is missing. Its messages name the
 * platform failure, never a secret ("Platform failure: DBus error: …", "Couldn't access
 * platform storage: Secret Service: …").
 */
export function keyringError(err: unknown, env: NodeJS.ProcessEnv = process.env): SigilError {
  if (err instanceof SigilError) return err;
  const msg = reason(err);
  const make = (message: string) => new SigilError(ErrorCode.INTERNAL, message, { cause: err });
  if (/autolaunch|Failed to connect to socket|DBUS_SESSION_BUS_ADDRESS|Connection refused|Could not parse server address|Unknown address type/i.test(msg)) {
    const addr = env.DBUS_SESSION_BUS_ADDRESS;
    return make(
      addr
        ? `${NOT_AVAILABLE}: no D-Bus session (cannot connect to DBUS_SESSION_BUS_ADDRESS=${addr})`
        : `${NOT_AVAILABLE}: no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)`,
    );
  }
  if (/org\.freedesktop\.secrets|ServiceUnknown|NameHasNoOwner|not provided by any \.service files/i.test(msg)) {
    return make(`${NOT_AVAILABLE}: no Secret Service on the session bus`);
  }
  if (/prompt was dismissed|locked/i.test(msg)) return make(`the OS keyring is locked: ${UNLOCK_HINT}`);
  // gnome-keyring without a login keyring: creating the default collection needs a prompt.
  if (/no result found/i.test(msg)) return make(`the OS keyring is locked (no unlocked default collection): ${UNLOCK_HINT}`);
  return make(`the OS keyring failed: ${msg}`);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
