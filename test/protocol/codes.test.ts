import { describe, expect, it } from 'vitest';
import { ErrorCode, EXIT_CODES, WIRE_CODES } from '../../src/protocol/codes.js';
import { inField, SigilError } from '../../src/protocol/errors.js';

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

  it('carries code and message on the wire, never the cause', () => {
    const err = new SigilError(ErrorCode.LOCKED, 'agent is locked', { cause: new Error('detail that stays local') });
    expect(err.toWire()).toEqual({ code: 'LOCKED', message: 'agent is locked' });
    expect(SigilError.fromWire({ code: 'NOT_FOUND', message: 'x' })).toMatchObject({ code: 'NOT_FOUND', message: 'x', exitCode: 7 });
    expect(SigilError.fromWire({ code: 'NOPE' }).code).toBe('INTERNAL');
    expect(SigilError.fromWire('garbage').code).toBe('INTERNAL');
  });

  it('carries the details (field, retry_after_s) on the wire as extra keys, and reads them back', () => {
    const err = new SigilError(ErrorCode.RATE_LIMITED, 'too many wrong passphrases — try again in 4s', { retry_after_s: 4, cause: new Error('local') });
    expect(err.toWire()).toEqual({ code: 'RATE_LIMITED', message: 'too many wrong passphrases — try again in 4s', retry_after_s: 4 });
    expect(SigilError.fromWire(err.toWire()).details).toEqual({ retry_after_s: 4 });
    const bad = new SigilError(ErrorCode.BAD_REQUEST, 'missing argument "client_id"', { field: 'client_id' });
    expect(SigilError.fromWire(bad.toWire())).toMatchObject({ code: 'BAD_REQUEST', message: 'missing argument "client_id"', details: { field: 'client_id' } });
    // Without details the wire form is what it always was: older clients see nothing new.
    expect(Object.keys(new SigilError(ErrorCode.LOCKED, 'x').toWire())).toEqual(['code', 'message']);
  });

  it("drops a hostile agent's junk details instead of trusting or throwing on them", () => {
    const junkFields: unknown[] = [42, null, {}, ['issuer'], 'Issuer', '', 'x'.repeat(65), 'issuer\x1b[2J', '__proto__ ', new Uint8Array([105])];
    for (const field of junkFields) {
      expect(SigilError.fromWire({ code: 'BAD_REQUEST', message: 'm', field }).details, String(field)).toEqual({});
    }
    const junkWaits: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e300, 86_401, '42', [42], {}, null, true];
    for (const retry_after_s of junkWaits) {
      expect(SigilError.fromWire({ code: 'RATE_LIMITED', message: 'm', retry_after_s }).details, String(retry_after_s)).toEqual({});
    }
    // The code and message still come through; unknown extra keys are ignored.
    expect(SigilError.fromWire({ code: 'RATE_LIMITED', message: 'wait', retry_after_s: 0, field: 'passphrase', extra: { deep: [1] } })).toMatchObject({
      code: 'RATE_LIMITED',
      message: 'wait',
      details: { retry_after_s: 0, field: 'passphrase' },
    });
  });

  it('inField names the field of an error that names none, and leaves one that does', () => {
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as SigilError;
      }
      throw new Error('expected a throw');
    };
    const named = thrown(() => inField('name', () => {
      throw new SigilError(ErrorCode.BAD_REQUEST, 'invalid service name "A"');
    }));
    expect(named).toMatchObject({ code: 'BAD_REQUEST', message: 'invalid service name "A"', details: { field: 'name' } });
    const kept = thrown(() => inField('name', () => {
      throw new SigilError(ErrorCode.BAD_REQUEST, 'missing argument "x"', { field: 'x' });
    }));
    expect(kept.details).toEqual({ field: 'x' });
    expect(thrown(() => inField('name', () => {
      throw new TypeError('not ours');
    }))).toBeInstanceOf(TypeError);
    expect(inField('name', () => 'ok')).toBe('ok');
  });
});
