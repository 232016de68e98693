/**
 * Secrets past or near their expiry as `sigil status` and the TUI's status bar say it:
 * "1 expired, 2 expire within a week"; null when there are none (or the vault is locked).
 */
export function secretsExpiryNote(e: { expired: number; soon: number } | null | undefined): string | null {
  if (!e || e.expired + e.soon === 0) return null;
  const parts = [...(e.expired ? [`${e.expired} expired`] : []), ...(e.soon ? [`${e.soon} expire${e.soon === 1 ? 's' : ''} within a week`] : [])];
  return parts.join(', ');
}
