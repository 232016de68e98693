/**
 * The one error model. Every failure that crosses a process boundary carries one of
 * these codes: the agent puts it in error frames, the client library throws it as a
 * SigilError, and the CLI turns it into an exit code through EXIT_CODES.
 */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  UNKNOWN_OP: 'UNKNOWN_OP',
  LOCKED: 'LOCKED',
  BAD_PASSPHRASE: 'BAD_PASSPHRASE',
  RATE_LIMITED: 'RATE_LIMITED',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  REAUTH_REQUIRED: 'REAUTH_REQUIRED',
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  FLOW_TIMEOUT: 'FLOW_TIMEOUT',
  FORBIDDEN: 'FORBIDDEN',
  /** The sync remote (git) failed: unreachable, refused the push, timed out. */
  REMOTE_ERROR: 'REMOTE_ERROR',
  INTERNAL: 'INTERNAL',
  // Client-side only: never sent by the agent, raised when no agent answers.
  NO_AGENT: 'NO_AGENT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes an agent may put on the wire (NO_AGENT is the client's own). */
export const WIRE_CODES: ReadonlySet<string> = new Set(
  Object.values(ErrorCode).filter((c) => c !== ErrorCode.NO_AGENT),
);

/**
 * Exit codes of `sigil` and `sigil-token`, one per family, stable and documented in
 * sigil(1). 1 is reserved for "unexpected", 2 for usage as most Unix tools do.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  INTERNAL: 1,
  BAD_REQUEST: 2,
  NO_AGENT: 3,
  LOCKED: 4,
  BAD_PASSPHRASE: 5,
  RATE_LIMITED: 6,
  NOT_FOUND: 7,
  ALREADY_EXISTS: 8,
  REAUTH_REQUIRED: 9,
  PROVIDER_ERROR: 10,
  FLOW_TIMEOUT: 11,
  FORBIDDEN: 12,
  // A client and an agent that do not understand each other: one family.
  UNSUPPORTED_VERSION: 13,
  UNKNOWN_OP: 13,
  FRAME_TOO_LARGE: 13,
  REMOTE_ERROR: 14,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(EXIT_CODES, value);
}
