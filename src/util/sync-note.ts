import type { SyncInfo } from '../protocol/results.js';
import { formatDuration } from './duration.js';

/**
 * A synced vault's device and last sync as `sigil status` and the TUI's status bar say it:
 * "device desk, synced 3m05s ago" / "device desk, sync failed 10s ago"; null when the vault
 * does not sync. `nowS`: Unix seconds.
 */
export function syncNote(sync: SyncInfo | null | undefined, nowS: number): string | null {
  if (!sync?.device) return null;
  if (sync.last_sync === null) return `device ${sync.device}, never synced`;
  const ago = `${formatDuration(nowS - sync.last_sync)} ago`;
  return `device ${sync.device}, ${sync.last_ok ? 'synced' : 'sync failed'} ${ago}`;
}
