import { describe, expect, it } from 'vitest';
import { secretsExpiryNote } from '../../src/util/secret-expiry-note.js';

describe('secretsExpiryNote', () => {
  it('says how many expired and how many expire within a week; nothing when none or locked', () => {
    expect(secretsExpiryNote({ expired: 1, soon: 2 })).toBe('1 expired, 2 expire within a week');
    expect(secretsExpiryNote({ expired: 0, soon: 1 })).toBe('1 expires within a week');
    expect(secretsExpiryNote({ expired: 3, soon: 0 })).toBe('3 expired');
    expect(secretsExpiryNote({ expired: 0, soon: 0 })).toBeNull();
    expect(secretsExpiryNote(null)).toBeNull();
    expect(secretsExpiryNote(undefined)).toBeNull();
  });
});
