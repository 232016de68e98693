import { describe, expect, it } from 'vitest';
import { checkAccount, checkSecretName, checkService, credentialKey, secretKey } from '../../src/protocol/names.js';
import { formatRef, parseRef } from '../../src/protocol/refs.js';

describe('references', () => {
  it('parses auth refs with the access token as default credential', () => {
    expect(parseRef('auth://github/work')).toEqual({ scheme: 'auth', service: 'github', account: 'work', credential: 'access_token' });
    expect(parseRef('auth://google/me@example.com/refresh_token')).toMatchObject({ account: 'me@example.com', credential: 'refresh_token' });
    expect(formatRef(parseRef('auth://github/work'))).toBe('auth://github/work/access_token');
  });

  it('parses secret refs with path-like names', () => {
    expect(parseRef('secret://db/prod/password')).toEqual({ scheme: 'secret', name: 'db/prod/password' });
  });

  it.each([
    ['http://github/work', 'unknown scheme "http://"'],
    ['github/work', 'expected auth://service/account[/type] or secret://name'],
    ['auth://github', 'expected auth://service/account'],
    ['auth://github/work/access_token/extra', 'expected auth://service/account'],
    ['auth://GitHub/work', 'invalid service name "GitHub"'],
    ['auth://github/wo rk', 'invalid account name "wo rk"'],
    ['auth://github/work/Access-Token', 'invalid credential type "Access-Token"'],
    ['secret://', 'the secret name is missing'],
    ['secret://../etc/passwd', 'invalid secret name'],
    ['secret://a//b', 'invalid secret name'],
  ])('rejects %j naming the wrong part', (ref, why) => {
    expect(() => parseRef(ref)).toThrow(why);
  });

  it('keeps control characters out of messages', () => {
    expect(() => checkService('a\x1b[2Jb')).toThrow('invalid service name "a\\x1b[2Jb"');
  });

  it('builds the storage keys of DESIGN.md', () => {
    expect(credentialKey(checkService('spotify'), checkAccount('personal'), 'refresh_token')).toBe('sigilforge/spotify/personal/refresh_token');
    expect(secretKey(checkSecretName('npm/token'))).toBe('sigilforge/_secret/npm/token');
    // No account name can collide with the secret namespace.
    expect(() => checkService('_secret')).toThrow();
  });
});
