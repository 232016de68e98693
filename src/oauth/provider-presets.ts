/**
 * Built-in providers: the real endpoints and each one's quirks, so a person only writes
 * `client_id` (and scopes) in config.toml. Sources: each provider's OAuth documentation.
 */
export interface ProviderQuirks {
  /** Answers OAuth errors with HTTP 200 and an `error` member (GitHub). */
  errorsWithHttp200?: boolean;
  /** Error codes that mean "this refresh token is dead" besides invalid_grant. */
  reauthErrors?: string[];
  /** A warning shown when an account is added (e.g. Google's 7-day Testing-mode tokens). */
  notice?: string;
  /**
   * Takes the client only by HTTP Basic auth — `client_id:` with an empty password for a
   * client without a secret (Reddit's installed apps) — where others take the secret in the
   * form body and a public client's id alone.
   */
  basicAuth?: boolean;
}

/** Where a provider is: an issuer to discover, or its endpoints (either may override the other). */
export interface ProviderEndpoints {
  issuer?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
}

export interface ProviderPreset extends ProviderEndpoints {
  scopes: string[];
  /** Where a person revokes a grant by hand, for a provider without a revocation endpoint. */
  revoke_page?: string;
  /** Extra authorization request parameters. */
  auth_params?: Record<string, string>;
  /** The browser sign-in's loopback port, for a provider that takes only the redirect URI registered for the app. */
  redirect_port?: number;
  quirks?: ProviderQuirks;
}

export const PRESETS: Readonly<Record<string, ProviderPreset>> = {
  github: {
    authorization_endpoint: 'https://github.com/login/oauth/authorize',
    token_endpoint: 'https://github.com/login/oauth/access_token',
    device_authorization_endpoint: 'https://github.com/login/device/code',
    scopes: ['read:user'],
    revoke_page: 'https://github.com/settings/applications',
    quirks: {
      errorsWithHttp200: true,
      reauthErrors: ['bad_refresh_token'],
      notice: 'GitHub OAuth-app tokens do not expire; GitHub-app user tokens expire after 8 hours and are refreshed.',
    },
  },
  spotify: {
    authorization_endpoint: 'https://accounts.spotify.com/authorize',
    token_endpoint: 'https://accounts.spotify.com/api/token',
    scopes: ['user-read-private'],
    revoke_page: 'https://www.spotify.com/account/apps/',
  },
  google: {
    issuer: 'https://accounts.google.com',
    device_authorization_endpoint: 'https://oauth2.googleapis.com/device/code',
    scopes: ['openid', 'email'],
    // Without both, Google issues no refresh token (or only on the very first consent).
    auth_params: { access_type: 'offline', prompt: 'consent' },
    quirks: {
      notice: 'Google revokes refresh tokens after 7 days while the OAuth app is in "Testing" publishing status; publish it to keep tokens.',
    },
  },
  microsoft: {
    // The "common" tenant's discovery document names a templated issuer ({tenantid}) that
    // fails issuer validation, so the endpoints are given explicitly.
    authorization_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
    token_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    device_authorization_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/devicecode',
    scopes: ['offline_access', 'User.Read'],
  },
  reddit: {
    // Installed apps only: Reddit has no device flow, and its `installed_client` grant gives
    // app-only tokens, no user's.
    authorization_endpoint: 'https://www.reddit.com/api/v1/authorize',
    token_endpoint: 'https://www.reddit.com/api/v1/access_token',
    revocation_endpoint: 'https://www.reddit.com/api/v1/revoke_token',
    scopes: ['identity'],
    // Without it the grant is one 1-hour access token and no refresh token.
    auth_params: { duration: 'permanent' },
    // Reddit compares redirect_uri with the app's registered one, port included: a fixed
    // port, so that one registration fits every sign-in.
    redirect_port: 65010,
    quirks: {
      // {"error": "invalid_grant"} comes with HTTP 200, as PRAW's prawcore reads it.
      errorsWithHttp200: true,
      basicAuth: true,
      notice: 'Reddit accepts only the redirect URI registered for the app: create an "installed app" at https://www.reddit.com/prefs/apps with redirect uri http://127.0.0.1:65010/callback (or the port set as redirect_port).',
    },
  },
  gitlab: {
    issuer: 'https://gitlab.com',
    device_authorization_endpoint: 'https://gitlab.com/oauth/authorize_device',
    scopes: ['read_user'],
  },
};
