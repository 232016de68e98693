/**
 * Every time in a protocol result (and so in every --json output) is Unix seconds, a number,
 * as `expires_at` always was; files keep ISO strings (accounts.toml, the audit log, secret
 * history), converted here on the way out. Audit times keep their milliseconds as a fraction:
 * the order of lines within a second matters there.
 */
export function unixSeconds(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

export function unixSecondsMs(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
}
