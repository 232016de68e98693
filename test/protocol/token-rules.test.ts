import { describe, expect, it } from 'vitest';
import { authScheme } from '../../src/protocol/token-rules.js';

describe('authScheme: a token_type fit for an Authorization header', () => {
  it('takes token68-like words, writing Bearer and DPoP as their RFCs do', () => {
    expect(authScheme('Bearer')).toBe('Bearer');
    expect(authScheme('bearer')).toBe('Bearer');
    expect(authScheme('BEARER')).toBe('Bearer');
    expect(authScheme('dpop')).toBe('DPoP');
    expect(authScheme('N_A')).toBe('N_A');
    expect(authScheme('Token-v1.2~x+y/z==')).toBe('Token-v1.2~x+y/z==');
  });

  it('refuses header lines, escapes, spaces, empty and overlong words', () => {
    for (const bad of ['Bearer\r\nX-Evil: 1', '\x1b]0;pwned\x07', 'Bearer x', '', '=Bearer', 'Bea=rer', 'a'.repeat(65), 'Bearer\u0085']) {
      expect(authScheme(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
