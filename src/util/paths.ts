import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Every file Sigilforge touches, from the XDG base directories (DESIGN.md "Files"). All
 * of it follows the XDG_* variables and HOME, so a test sandboxes with a temporary HOME.
 */
export interface SigilPaths {
  configDir: string;
  config: string;
  accounts: string;
  dataDir: string;
  vault: string;
  identity: string;
  recipients: string;
  /** A synced vault's devices (src/sync/devices-file.ts); travels with the vault. */
  devices: string;
  /** A synced vault's device-local part: this device's sign-ins (OAuth tokens). Never synced. */
  device: string;
  /** Which device this is (name and recipient, no secret). Never synced. */
  thisDevice: string;
  /** When this device last synced and how it went. */
  syncState: string;
  /** Present (mode 0600, no secret in it) when the vault passphrase is kept in the OS keyring. */
  unlockAtLogin: string;
  stateDir: string;
  audit: string;
  /** A background agent's stderr (src/agent/agent-log.ts); `sigil logs` prints it. */
  agentLog: string;
  socketDir: string;
  socket: string;
}

type Env = Record<string, string | undefined>;

function base(env: Env, name: string, fallback: string): string {
  const v = env[name];
  // The XDG spec says relative values are invalid and must be ignored.
  return v && v.startsWith('/') ? v : join(env.HOME || homedir(), fallback);
}

/** The socket directory alone: the hot path (sigil-token) needs nothing else. */
export function defaultSocketDir(env: Env = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith('/')) return join(runtime, 'sigilforge');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return `/tmp/sigilforge-${uid}`;
}

export function defaultSocketPath(env: Env = process.env): string {
  return join(defaultSocketDir(env), 'agent.sock');
}

export function sigilPaths(env: Env = process.env): SigilPaths {
  const configDir = join(base(env, 'XDG_CONFIG_HOME', '.config'), 'sigilforge');
  const dataDir = join(base(env, 'XDG_DATA_HOME', '.local/share'), 'sigilforge');
  const stateDir = join(base(env, 'XDG_STATE_HOME', '.local/state'), 'sigilforge');
  const socketDir = defaultSocketDir(env);
  return {
    configDir,
    config: join(configDir, 'config.toml'),
    accounts: join(configDir, 'accounts.toml'),
    dataDir,
    vault: join(dataDir, 'vault.age'),
    identity: join(dataDir, 'identity.age'),
    recipients: join(dataDir, 'recipients.txt'),
    devices: join(dataDir, 'devices.toml'),
    device: join(dataDir, 'device.age'),
    thisDevice: join(dataDir, 'device.json'),
    syncState: join(stateDir, 'sync.json'),
    unlockAtLogin: join(dataDir, 'unlock-at-login'),
    stateDir,
    audit: join(stateDir, 'audit.log'),
    agentLog: join(stateDir, 'agent.log'),
    socketDir,
    socket: join(socketDir, 'agent.sock'),
  };
}
