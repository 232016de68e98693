import { describe, expect, it } from 'vitest';
import { ErrorCode, EXIT_CODES, WIRE_CODES } from '../../src/protocol/codes.js';
import { SigilError } from '../../src/protocol/errors.js';

describe('error codes', () => {
  it('gives every code an exit code, none of them 0', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(EXIT_CODES[code], code).toBeGreaterThan(0);
    }
    expect(Object.keys(EXIT_CODES).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('keeps the families users script against distinct', () => {
    const families = [ErrorCode.BAD_REQUEST, ErrorCode.NO_AGENT, ErrorCode.LOCKED, ErrorCode.NOT_FOUND, ErrorCode.REAUTH_REQUIRED, ErrorCode.BAD_PASSPHRASE, ErrorCode.RATE_LIMITED, ErrorCode.FORBIDDEN, ErrorCode.PROVIDER_ERROR, ErrorCode.INTERNAL];
    const codes = families.map((c) => EXIT_CODES[c]);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('never puts NO_AGENT on the wire', () => {
    expect(WIRE_CODES.has(ErrorCode.NO_AGENT)).toBe(false);
    expect(WIRE_CODES.has(ErrorCode.LOCKED)).toBe(true);
  });

  it('carries code and message only on the wire', () => {
    const err = new SigilError(ErrorCode.LOCKED, 'agent is locked', { cause: new Error('detail that stays local') });
    expect(err.toWire()).toEqual({ code: 'LOCKED', message: 'agent is locked' });
    expect(SigilError.fromWire({ code: 'NOT_FOUND', message: 'x' })).toMatchObject({ code: 'NOT_FOUND', message: 'x', exitCode: 7 });
    expect(SigilError.fromWire({ code: 'NOPE' }).code).toBe('INTERNAL');
    expect(SigilError.fromWire('garbage').code).toBe('INTERNAL');
  });
});
