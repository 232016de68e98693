import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { MAX_EXPIRES_IN_S } from '../protocol/token-rules.js';
import { parseDuration } from '../util/duration.js';

/**
 * `--expires-in DURATION` (`token set`, `secret set`; the TUI's "Expires in" field, named by
 * `label`) as seconds; undefined when not given.
 */
export function expiresInOption(text: string | undefined, label = '--expires-in'): number | undefined {
  if (text === undefined) return undefined;
  let seconds: number;
  try {
    seconds = parseDuration(text);
  } catch (err) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `${label}: ${(err as Error).message}`);
  }
  if (seconds > MAX_EXPIRES_IN_S) throw new SigilError(ErrorCode.BAD_REQUEST, `${label}: "${text}" is more than 10 years (3650d)`);
  return seconds;
}
