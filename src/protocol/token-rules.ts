/**
 * What the agent accepts as a token's type and lifetime, wherever it comes from (a provider's
 * token endpoint, `set_token`, accounts.toml): shared by the agent and the CLI.
 */

/** The longest lifetime a token may claim: ten years (`expires_in: 1e308` is not a lifetime). */
export const MAX_EXPIRES_IN_S = 10 * 365 * 86400;

/**
 * A token type as it goes into `Authorization: TYPE TOKEN`, or null when it cannot be one.
 * Only a token68-like word (RFC 7235 §2.1: letters, digits, `-._~+/`, trailing `=`) is a
 * scheme: anything else — a CR LF, an ESC — would forge header lines or retitle a terminal
 * when `sigil token get --format header` prints it. "bearer" (GitHub, and openid-client,
 * which lower-cases every type) is written "Bearer" as RFC 6750 and every server expects;
 * likewise "DPoP" (RFC 9449).
 */
export function authScheme(type: string): string | null {
  if (type.length > 64 || !/^[A-Za-z0-9\-._~+/]+=*$/.test(type)) return null;
  const lower = type.toLowerCase();
  if (lower === 'bearer') return 'Bearer';
  if (lower === 'dpop') return 'DPoP';
  return type;
}
