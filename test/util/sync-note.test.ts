import { describe, expect, it } from 'vitest';
import { syncNote } from '../../src/util/sync-note.js';

describe('syncNote', () => {
  const base = { device: 'desk', remote: 'git@example.com:me/vault.git', last_sync: 1000, last_ok: true, last_summary: '2 received, sent' };
  it('names the device and how long ago it synced, or that the last sync failed; nothing for a vault that does not sync', () => {
    expect(syncNote(base, 1185)).toBe('device desk, synced 3m05s ago');
    expect(syncNote({ ...base, last_ok: false }, 1010)).toBe('device desk, sync failed 10s ago');
    expect(syncNote({ ...base, last_sync: null, last_ok: null }, 1010)).toBe('device desk, never synced');
    expect(syncNote({ ...base, device: null }, 1010)).toBeNull();
    expect(syncNote(null, 1010)).toBeNull();
    expect(syncNote(undefined, 1010)).toBeNull();
  });
});
