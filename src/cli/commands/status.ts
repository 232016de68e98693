import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../../util/duration.js';
import { tokenBinKind } from '../../native/token-bin.js';
import { call } from '../agent.js';
import { printJson } from '../output.js';
import { secretsExpiryNote } from '../../util/secret-expiry-note.js';
import { syncNote } from '../../util/sync-note.js';

export async function status(opts: { json?: boolean }): Promise<void> {
  const s = await call('status');
  const note = secretsExpiryNote(s.secrets_expiring);
  if (opts.json) return printJson(s);
  const lines = [
    `agent:    pid ${s.pid}, sigilforge ${s.version}`,
    s.forwarded !== undefined ? `socket:   forwarded over ssh (the agent sees this machine as ${s.forwarded})` : `socket:   ${s.socket}`,
    `state:    ${s.vault === false ? 'no vault — run: sigil init' : s.locked ? 'locked' : 'unlocked'}`,
  ];
  if (!s.locked) {
    lines.push(`locks in: ${s.locks_in_s === null ? 'never (no timeout)' : formatDuration(s.locks_in_s)} (after ${formatDuration(s.lock_timeout_s)} idle)`);
  }
  lines.push(
    `accounts: ${s.accounts}`,
    `secrets:  ${s.secrets ?? '(locked)'}${note ? ` (${note}: sigil secret list -l)` : ''}`,
    `at login: ${s.unlock_at_login ? 'unlock on (the passphrase is remembered in the OS keyring)' : 'unlock off'}`,
  );
  const sync = syncNote(s.sync, Math.floor(Date.now() / 1000));
  if (sync) lines.push(`sync:     ${sync}${s.sync?.last_ok === false ? ` (${s.sync.last_summary})` : ''}`);
  // Which sigil-token this installation's bin is (src/native/token-bin.ts): a fact of this
  // machine, not of the agent, so in the text only.
  const token = tokenBinKind(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
  if (token) lines.push(`token:    sigil-token ${token === 'native' ? 'is native (C)' : 'runs on Node (no native build runs here)'}`);
  process.stdout.write(lines.join('\n') + '\n');
}

