import { parseDuration } from '../util/duration.js';
import { configError, readTomlFile } from './toml-file.js';

/** config.toml, validated. Unknown sections are kept for later readers (providers). */
export interface SigilConfig {
  agent: {
    /** Seconds of idle time before the agent locks itself; 0 = never. */
    lockTimeoutS: number;
    /** Run (by sh -c) when an account needs authorizing again, as pizauth's auth_notify_cmd. */
    notifyCmd?: string;
    /** Refresh OAuth tokens this many seconds before they expire, in the background; 0 = only on use. */
    refreshAheadS: number;
  };
  storage: {
    primary: 'vault' | 'keyring';
  };
  providers: Record<string, Record<string, unknown>>;
}

/** DESIGN.md's default; long enough for a working session, short enough for a walk away. */
export const DEFAULT_LOCK_TIMEOUT_S = 15 * 60;

export function loadConfig(path: string): SigilConfig {
  const raw = readTomlFile(path);
  const agent = table(raw, 'agent', path);
  const storage = table(raw, 'storage', path);

  let lockTimeoutS = DEFAULT_LOCK_TIMEOUT_S;
  if (agent.lock_timeout !== undefined) {
    const v = agent.lock_timeout;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) lockTimeoutS = v;
    else if (typeof v === 'string') {
      try {
        lockTimeoutS = parseDuration(v);
      } catch {
        throw configError(path, 'agent.lock_timeout', 'a duration such as "15m", "1h" or "0"');
      }
    } else throw configError(path, 'agent.lock_timeout', 'a duration such as "15m", "1h" or "0"');
  }

  const notifyCmd = agent.notify_cmd;
  if (notifyCmd !== undefined && typeof notifyCmd !== 'string') throw configError(path, 'agent.notify_cmd', 'a command string');

  let refreshAheadS = 0;
  if (agent.refresh_ahead !== undefined) {
    const v = agent.refresh_ahead;
    try {
      if (typeof v !== 'string') throw new Error();
      refreshAheadS = parseDuration(v);
    } catch {
      throw configError(path, 'agent.refresh_ahead', 'a duration such as "10m" (or "0" to refresh only on use)');
    }
  }

  const primary = storage.primary ?? 'vault';
  if (primary !== 'vault' && primary !== 'keyring') throw configError(path, 'storage.primary', '"vault" or "keyring"');

  const providers = table(raw, 'providers', path) as Record<string, Record<string, unknown>>;
  for (const [name, p] of Object.entries(providers)) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw configError(path, `providers.${name}`, 'a table');
  }
  return { agent: { lockTimeoutS, refreshAheadS, ...(notifyCmd ? { notifyCmd } : {}) }, storage: { primary }, providers };
}

function table(raw: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const v = raw[key];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw configError(path, key, 'a table');
  return v as Record<string, unknown>;
}
