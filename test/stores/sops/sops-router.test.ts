import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceSecret } from '../../../src/agent/secrets/secret-history.js';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { secretKey } from '../../../src/protocol/names.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { withSopsFiles } from '../../../src/stores/sops/sops-router.js';
import type { SecretStore } from '../../../src/stores/secret-store.js';
import { sigilErrorOf } from '../../support/errors.js';
import { decryptIndependently, FIXTURE_IDENTITY, FIXTURE_YAML } from './sops-helpers.js';

/** The agent's view: a primary store (here in memory) with a SOPS file under `infra/`. */
describe('withSopsFiles', () => {
  let dir: string;
  let file: string;
  let primary: MemoryStore;
  let store: SecretStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-sops-router-'));
    file = join(dir, 'secrets.enc.yaml');
    writeFileSync(file, FIXTURE_YAML);
    primary = new MemoryStore();
    await primary.set(secretKey('age/identity'), Buffer.from(FIXTURE_IDENTITY));
    await primary.set(secretKey('infra/stringData/key'), Buffer.from('a vault secret under the prefix'));
    await primary.set(secretKey('db/password'), Buffer.from('vault value'));
    store = withSopsFiles(primary, [{ path: file, prefix: 'infra/', format: 'yaml' }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers names under the prefix from the file (hiding a vault secret of that name), the rest from the vault', async () => {
    expect((await store.get(secretKey('infra/stringData/key')))?.toString()).toBe('value');
    expect((await store.get(secretKey('db/password')))?.toString()).toBe('vault value');
    expect(await store.list(secretKey(''))).toEqual(['age/identity', 'db/password', 'infra/apiVersion', 'infra/kind', 'infra/metadata/name', 'infra/stringData/key'].map(secretKey));
    expect(await store.list(secretKey('infra/s'))).toEqual([secretKey('infra/stringData/key')]);
  });

  it('keeps no history of a SOPS name: the replaced value goes nowhere, the new one to the file', async () => {
    const { existed, savedAs } = await replaceSecret(store, 'infra/stringData/key', Buffer.from('next'), 5, new Date());
    expect({ existed, savedAs }).toEqual({ existed: true, savedAs: 1 });
    expect(await primary.list('sigilforge/_history/')).toEqual([]);
    expect(await decryptIndependently(readFileSync(file, 'utf8'))).toMatchObject({ stringData: { key: 'next' } });
    // A vault secret still keeps its history.
    await replaceSecret(store, 'db/password', Buffer.from('v2'), 5, new Date());
    expect(await primary.list('sigilforge/_history/')).toEqual(['sigilforge/_history/db/password/1']);
  });

  it('refuses an expiry for a SOPS name before anything is written; a vault name keeps one', async () => {
    const before = readFileSync(file, 'utf8');
    const err = await sigilErrorOf(replaceSecret(store, 'infra/stringData/key', Buffer.from('next'), 5, new Date(), 2_000_000_000));
    expect(err).toMatchObject({ code: ErrorCode.BAD_REQUEST, message: 'secret "infra/stringData/key" is in a SOPS file, which keeps no expiry: set it without --expires-in' });
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(await primary.list('sigilforge/_meta/')).toEqual([]);
    await replaceSecret(store, 'db/password', Buffer.from('v2'), 5, new Date(), 2_000_000_000);
    expect(await primary.list('sigilforge/_meta/')).toEqual(['sigilforge/_meta/db/password']);
  });

  it('refuses an expiry for a SOPS name in front of a store without batches (the keyring), writing nothing', async () => {
    const before = readFileSync(file, 'utf8');
    const noBatch: SecretStore = Object.assign(Object.create(primary) as MemoryStore, { writeBatch: undefined });
    const routed = withSopsFiles(noBatch, [{ path: file, prefix: 'infra/', format: 'yaml' }]);
    const err = await sigilErrorOf(replaceSecret(routed, 'infra/stringData/key', Buffer.from('next'), 5, new Date(), 2_000_000_000));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect((await routed.get(secretKey('infra/stringData/key')))?.toString()).toBe('value');
    expect([...(await primary.list('sigilforge/_meta/')), ...(await primary.list('sigilforge/_history/'))]).toEqual([]);
  });

  it('a broken file: a wide listing leaves it out, one inside its prefix answers the error', async () => {
    writeFileSync(file, FIXTURE_YAML.replace('kind: Secret', 'kind: Tampered'));
    expect(await store.list(secretKey(''))).toEqual(['age/identity', 'db/password'].map(secretKey));
    expect((await sigilErrorOf(store.list(secretKey('infra/')))).message).toContain('MAC mismatch');
    expect((await sigilErrorOf(store.get(secretKey('infra/stringData/key')))).message).toContain('MAC mismatch');
  });
});
