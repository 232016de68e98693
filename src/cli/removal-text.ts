import type { AccountRemoval } from '../protocol/results.js';

/**
 * What `sigil accounts remove` and the TUI say after removing an account: how many
 * credentials went, and what became of the grant at the provider — a removed account whose
 * grant lives on is still signed in there.
 */
export function removalText(r: AccountRemoval): string {
  const n = r.removed_credentials;
  const head = `Removed ${r.service}/${r.account} (${n} credential${n === 1 ? '' : 's'})`;
  const there = r.revoke_page ? `, revoke it there: ${r.revoke_page}` : ': revoke it in your account settings there';
  switch (r.revocation) {
    case 'revoked':
      return `${head}; the provider revoked the grant.`;
    case 'unsupported':
      return `${head}; the provider has no revocation endpoint${there}`;
    case 'failed':
      return `${head}; revocation failed: ${r.error ?? 'unknown error'}${r.revoke_page ? ` (revoke it there: ${r.revoke_page})` : ''}`;
    default:
      return `${head}.`;
  }
}
