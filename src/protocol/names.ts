import { ErrorCode } from './codes.js';
import { SigilError } from './errors.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * Names people type: services, accounts, secret keys, credential types. Checked by the
 * agent (the authority) and early by the CLI, with the same messages. Narrow alphabets keep
 * names safe in storage keys, TOML keys, URLs and audit lines alike.
 */
const SERVICE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const CREDENTIAL = /^[a-z][a-z0-9_]{0,63}$/;
/** Secret names may be paths ("db/prod/password") but not climb or start with a slash. */
const SECRET = /^[A-Za-z0-9_][A-Za-z0-9._@+-]*(\/[A-Za-z0-9_][A-Za-z0-9._@+-]*)*$/;
const SECRET_MAX = 256;

/*
 * The last name each check passed: the agent checks the same service and account on every
 * get_token of a script's loop, and comparing a string costs less than running the pattern.
 */
let lastService: string | undefined;
let lastAccount: string | undefined;

export function checkService(name: string): string {
  if (name === lastService) return name;
  if (!SERVICE.test(name)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid service name "${printable(name)}": use lowercase letters, digits, "-" and "_" (max 64)`);
  }
  return (lastService = name);
}

export function checkAccount(name: string): string {
  if (name === lastAccount) return name;
  if (!ACCOUNT.test(name)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid account name "${printable(name)}": use letters, digits and . _ @ + - (max 128)`);
  }
  return (lastAccount = name);
}

export function checkCredentialType(name: string): string {
  if (!CREDENTIAL.test(name)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid credential type "${printable(name)}": use lowercase letters, digits and "_"`);
  }
  return name;
}

export function checkSecretName(name: string): string {
  if (name.length > SECRET_MAX || !SECRET.test(name)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid secret name "${printable(name)}": use letters, digits and . _ @ + - with "/" between parts`);
  }
  return name;
}

/** checkSecretName as a test: for names read from files, which are skipped rather than refused. */
export function isSecretName(name: string): boolean {
  return name.length <= SECRET_MAX && SECRET.test(name);
}

/** Storage key of an account credential (DESIGN.md). */
export function credentialKey(service: string, account: string, type: string): string {
  return `sigilforge/${service}/${account}/${type}`;
}

export function accountPrefix(service: string, account: string): string {
  return `sigilforge/${service}/${account}/`;
}

/** Free-form secrets live beside accounts under a service name no account can have. */
export const SECRET_PREFIX = 'sigilforge/_secret/';

/** Earlier versions of a secret (`[secrets] history`), beside the secrets themselves. */
export const HISTORY_PREFIX = 'sigilforge/_history/';
/** A synced vault's copy of each account's shared metadata (src/agent/sync/account-mirror.ts). */
export const ACCOUNT_MIRROR_PREFIX = 'sigilforge/_account/';
/** A synced vault's copy of each [providers.NAME] table of config.toml (src/agent/sync/provider-mirror.ts). */
export const PROVIDER_MIRROR_PREFIX = 'sigilforge/_providers/';
/** What Sigilforge knows about a secret's current value (its expiry), beside the secrets. */
export const META_PREFIX = 'sigilforge/_meta/';
export function secretKey(name: string): string {
  return SECRET_PREFIX + name;
}

/** The device's age identity (`sigil age-key`): a vault secret, and the key to SOPS files. */
export const AGE_IDENTITY_SECRET = 'age/identity';

/** Names are echoed in errors: keep control characters out of the terminal. */
function printable(s: string): string {
  return terminalText(s, { max: 80 });
}
