import { describe, expect, it } from 'vitest';
import { checkAccount, checkSecretName, checkService, credentialKey, secretKey } from '../../src/protocol/names.js';
import { formatRef, parseRef, shownRef, valsParts, withValsPath, type ValsRef } from '../../src/protocol/refs.js';
import { canonicalRef } from '../../src/cli/resolve-refs.js';

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

  it('parses vals expressions, also under vals:, without the end-of-expression +', () => {
    expect(parseRef('ref+vault://mykv/foo?address=https://v.example#/bar')).toEqual({ scheme: 'vals', backend: 'vault', expr: 'ref+vault://mykv/foo?address=https://v.example#/bar' });
    expect(formatRef(parseRef('vals:ref+file://a.yaml#/x+'))).toBe('ref+file://a.yaml#/x');
    const ref = parseRef('ref+sops://dir/s.json?format=json#/db/password') as ValsRef;
    expect(valsParts(ref)).toEqual({ path: 'dir/s.json', query: 'format=json', fragment: ['db', 'password'] });
    expect(withValsPath(ref, '/abs/s.json').expr).toBe('ref+sops:///abs/s.json?format=json#/db/password');
    expect(parseRef('secretref+vault://kv/foo#/pw+')).toEqual({ scheme: 'vals', backend: 'vault', expr: 'secretref+vault://kv/foo#/pw' });
  });

  it.each([
    ['ref+vault://', 'the path is missing'],
    ['ref+Vault://x', 'expected a vals expression'],
    ['ref+file://a b', 'no blanks or control characters'],
    ['ref+file://a\n', 'no blanks or control characters'],
    ['vals:secret://x', 'after vals: comes a vals expression'],
    ['ref+file://a+b', 'holds no "+"'],
    [`ref+file://${'a'.repeat(5000)}`, 'at most 4096 characters'],
  ])('rejects the vals expression %j naming the wrong part', (ref, why) => {
    expect(() => parseRef(ref)).toThrow(why);
  });

  it('rejects a fragment that is not a key path', () => {
    expect(() => valsParts(parseRef('ref+file://a.yaml#x') as ValsRef)).toThrow('the fragment is a key path');
    expect(() => valsParts(parseRef('ref+file://a.yaml#/a//b') as ValsRef)).toThrow('empty key');
  });

  // A vault expression may carry its credentials as parameters (secret_id=…): the audit log must not.
  it('shows vals expressions without their query string', () => {
    expect(shownRef('ref+vault://kv/foo?auth_method=approle&secret_id=5c91#/bar')).toBe('ref+vault://kv/foo?…#/bar');
    expect(shownRef('secret://a?b')).toBe('secret://a?b');
  });

  it('makes relative ref+file and ref+sops paths absolute against the working directory, as vals reads them', () => {
    expect(canonicalRef('ref+file://conf/app.yaml#/db', '/home/me/proj')).toBe('ref+file:///home/me/proj/conf/app.yaml#/db');
    expect(canonicalRef('ref+file:///etc/app.yaml', '/home/me')).toBe('ref+file:///etc/app.yaml');
    expect(canonicalRef('ref+sops://s.enc.yaml+', '/w')).toBe('ref+sops:///w/s.enc.yaml');
    expect(canonicalRef('ref+vault://kv/foo#/bar', '/w')).toBe('ref+vault://kv/foo#/bar');
  });
});
