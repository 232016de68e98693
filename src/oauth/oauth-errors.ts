/**
 * Reading provider errors without loading openid-client: the agent imports openid-client
 * only when an OAuth flow or refresh needs it (it is ~7 MiB of heap an agent holding only
 * static tokens never needs). openid-client's ResponseBodyError and AuthorizationResponseError
 * both carry the RFC 6749 `error` and `error_description` members, which is all we read.
 */
export type Fetch = typeof fetch;

interface OAuthErrorLike {
  name: string;
  error: string;
  error_description?: string;
}

const OAUTH_ERROR_NAMES = new Set(['ResponseBodyError', 'AuthorizationResponseError']);

function asOAuthError(err: unknown): OAuthErrorLike | null {
  if (err instanceof Error && OAUTH_ERROR_NAMES.has(err.name) && typeof (err as Partial<OAuthErrorLike>).error === 'string') {
    return err as unknown as OAuthErrorLike;
  }
  return null;
}

/** A provider error as people should read it: the OAuth error code and description. */
export function describeError(err: unknown): string {
  const oauth = asOAuthError(err);
  if (oauth) return oauth.error_description ? `${oauth.error}: ${oauth.error_description}` : oauth.error;
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (err.name === 'TimeoutError' || (cause instanceof Error && cause.name === 'TimeoutError')) return 'the provider did not answer in time';
    // openid-client puts the HTTP response it could not use in `cause` (a 5xx page, say).
    const status = (cause as { status?: unknown } | undefined)?.status;
    if (typeof status === 'number') return `${err.message} (HTTP ${status})`;
    const code = (cause as { code?: string } | undefined)?.code;
    return code ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/** The OAuth error code of a provider's answer, if it was one. */
export function oauthErrorCode(err: unknown): string | undefined {
  return asOAuthError(err)?.error;
}
