import type { SecretRollback } from '../protocol/results.js';

/** What `sigil secret rollback` and the TUI say after a rollback: the version now current, and where the value it replaced went. */
export function rollbackText(r: SecretRollback): string {
  return `${r.name} is at version ${r.version} again` + (r.saved_as !== undefined ? ` (the value it replaced is version ${r.saved_as}).` : '.');
}
