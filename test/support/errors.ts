import { expect } from 'vitest';
import { SigilError } from '../../src/protocol/errors.js';

/** The SigilError `p` rejects with (failing the test when it resolves or throws anything else). */
export async function sigilErrorOf(p: Promise<unknown>): Promise<SigilError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SigilError);
  return err as SigilError;
}

/** The SigilError `fn` throws (failing the test when it returns or throws anything else). */
export function sigilErrorThrown(fn: () => unknown): SigilError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SigilError);
  return err as SigilError;
}
