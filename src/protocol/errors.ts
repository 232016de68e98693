import { ErrorCode, EXIT_CODES, isErrorCode } from './codes.js';
import { formatDuration } from '../util/duration.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * What a client may need from an error beyond its code, so that no client reads the message
 * text to decide what to do (sigil-protocol(7), ERRORS). Sent as extra keys of the wire error,
 * beside code and message; an older client ignores them.
 */
export interface ErrorDetails {
  /** The request argument that was wrong (for add_provider also a config.toml provider key): "issuer", "client_id", "kind". */
  field?: string;
  /** RATE_LIMITED: whole seconds until the next attempt is taken. */
  retry_after_s?: number;
}

/** A field is an argument name: the alphabet of the protocol's own keys, so junk cannot pass for one. */
const FIELD = /^[a-z][a-z0-9_]{0,63}$/;
/** Longer than any wait the agent sets (its throttle caps at minutes): anything above is junk. */
const MAX_RETRY_AFTER_S = 86_400;

/** The details a wire error carries, each checked: an agent's junk is dropped, never trusted or thrown. */
function wireDetails(error: Record<string, unknown>): ErrorDetails {
  const details: ErrorDetails = {};
  const { field, retry_after_s } = error;
  if (typeof field === 'string' && FIELD.test(field)) details.field = field;
  if (typeof retry_after_s === 'number' && Number.isSafeInteger(retry_after_s) && retry_after_s >= 0 && retry_after_s <= MAX_RETRY_AFTER_S) {
    details.retry_after_s = retry_after_s;
  }
  return details;
}

/**
 * The only exception type that crosses module boundaries on purpose. `message` is
 * shown to people as is, so it must never contain a secret value; detail for
 * debugging goes in `cause`, which never leaves the process. What clients act on (beyond
 * `code`) is in `details`.
 */
export class SigilError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<ErrorDetails>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown } & ErrorDetails) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigilError';
    this.code = code;
    const details: ErrorDetails = {};
    if (options?.field !== undefined) details.field = options.field;
    if (options?.retry_after_s !== undefined) details.retry_after_s = options.retry_after_s;
    this.details = details;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  /** The wire form: code, message and the details, never a stack or a cause. */
  toWire(): { code: ErrorCode; message: string } & ErrorDetails {
    return { code: this.code, message: this.message, ...this.details };
  }

  /** An agent's error: its message is printed by every client, so control characters are escaped here, once. */
  static fromWire(error: unknown): SigilError {
    if (error && typeof error === 'object') {
      const wire = error as Record<string, unknown>;
      const { code, message } = wire;
      if (isErrorCode(code)) {
        return new SigilError(code, typeof message === 'string' ? terminalText(message, { lines: true }) : code, wireDetails(wire));
      }
    }
    return new SigilError(ErrorCode.INTERNAL, 'agent sent a malformed error');
  }
}

/**
 * Runs `fn`; a SigilError it throws that names no field yet is thrown again naming `field`:
 * for checks that know what is wrong but not which argument held it (checkService, a URL).
 */
export function inField<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof SigilError) || err.details.field !== undefined) throw err;
    throw new SigilError(err.code, err.message, { ...err.details, field, cause: err.cause });
  }
}

/** Anything thrown, as a SigilError; unknown errors become INTERNAL with a generic message. */
export function toSigilError(err: unknown, fallback = 'internal error'): SigilError {
  if (err instanceof SigilError) return err;
  return new SigilError(ErrorCode.INTERNAL, fallback, { cause: err });
}

/** What every secret-bearing answer says while the agent is locked: the fix included. */
export function lockedError(): SigilError {
  return new SigilError(ErrorCode.LOCKED, 'agent is locked — run: sigil unlock');
}

/** The unlock throttle's refusal: the wait in the message for people and in retry_after_s for clients. */
export function rateLimitedError(seconds: number): SigilError {
  return new SigilError(ErrorCode.RATE_LIMITED, `too many wrong passphrases — try again in ${formatDuration(seconds)}`, { retry_after_s: seconds });
}
