import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * Reads a TOML file; a missing file is an empty table. A syntax error names the file, line
 * and column (as pizauth does), so the person can go straight to it.
 */
export function readTomlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0];
      throw new SigilError(ErrorCode.BAD_REQUEST, `${path}:${err.line}:${err.column}: ${first}`);
    }
    throw err;
  }
}

/** A config value of the wrong type: the message names the key path and what was expected. */
export function configError(path: string, key: string, expected: string): SigilError {
  return new SigilError(ErrorCode.BAD_REQUEST, `${path}: "${key}" must be ${expected}`);
}
