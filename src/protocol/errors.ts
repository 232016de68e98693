import { ErrorCode, EXIT_CODES, isErrorCode } from './codes.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * The only exception type that crosses module boundaries on purpose. `message` is
 * shown to people as is, so it must never contain a secret value; detail for
 * debugging goes in `cause`, which never leaves the process.
 */
export class SigilError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigilError';
    this.code = code;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  /** The wire form: code and message only, never a stack or a cause. */
  toWire(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }

  /** An agent's error: its message is printed by every client, so control characters are escaped here, once. */
  static fromWire(error: unknown): SigilError {
    if (error && typeof error === 'object') {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (isErrorCode(code)) {
        return new SigilError(code, typeof message === 'string' ? terminalText(message, { lines: true }) : code);
      }
    }
    return new SigilError(ErrorCode.INTERNAL, 'agent sent a malformed error');
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
