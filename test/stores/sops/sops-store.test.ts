import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { openSops, readSops, unwrapDataKey, writeSops } from '../../../src/stores/sops/sops-file.js';
import { SopsStore } from '../../../src/stores/sops/sops-store.js';
import { sigilErrorOf } from '../../support/errors.js';
import { bundleWriter, runAndKill } from '../kill-harness.js';
import { checkMac, decryptIndependently, FIXTURE_IDENTITY, FIXTURE_YAML } from './sops-helpers.js';

const KILLS = 20;
const FILLER = 50; // other values that must survive every kill (the writer's slow temp file makes the window)

/** What `sops edit` leaves: the fixture with `changes` made (written in place by the caller). */
async function edited(text: string, changes: Record<string, string | null>): Promise<string> {
  const file = openSops(text, 'yaml', await unwrapDataKey(readSops(text, 'yaml', 'f'), FIXTURE_IDENTITY), 'f');
  return writeSops(file, Object.entries(changes).map(([name, v]) => ({ name, value: v === null ? null : Buffer.from(v) })), new Date(), 'f').text;
}

describe('SopsStore', () => {
  let dir: string;
  let path: string;
  const stores: SopsStore[] = [];
  const store = (identity: string | null = FIXTURE_IDENTITY) => {
    const s = new SopsStore({ file: { path, prefix: 'infra/', format: 'yaml' }, identity: async () => identity });
    stores.push(s);
    return s;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-sops-'));
    path = join(dir, 'secrets.enc.yaml');
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up an edit made by sops in place (same inode), and one that replaces the file', async () => {
    writeFileSync(path, FIXTURE_YAML);
    const s = store();
    expect((await s.get('stringData/key'))?.toString()).toBe('value');
    writeFileSync(path, await edited(FIXTURE_YAML, { 'stringData/key': 'edited by sops' }));
    expect((await s.get('stringData/key'))?.toString()).toBe('edited by sops');
    const replaced = join(dir, 'new.yaml');
    writeFileSync(replaced, await edited(FIXTURE_YAML, { 'stringData/other': 'added' }));
    const { renameSync } = await import('node:fs');
    renameSync(replaced, path);
    expect((await s.get('stringData/other'))?.toString()).toBe('added');
    expect((await s.get('stringData/key'))?.toString()).toBe('value'); // the replacement was made from the original
  });

  it('serves nothing from a file whose MAC no longer matches, and recovers when it is put right', async () => {
    writeFileSync(path, FIXTURE_YAML);
    const s = store();
    expect((await s.get('stringData/key'))?.toString()).toBe('value');
    writeFileSync(path, FIXTURE_YAML.replace('name: age', 'name: evil'));
    expect((await sigilErrorOf(s.get('stringData/key'))).message).toContain('MAC mismatch');
    writeFileSync(path, FIXTURE_YAML);
    expect((await s.get('stringData/key'))?.toString()).toBe('value');
  });

  it('writes back what sops reads, and a refused write leaves the file as it was', async () => {
    writeFileSync(path, FIXTURE_YAML);
    const s = store();
    await s.write([{ name: 'stringData/db/password', value: Buffer.from('s3cret') }]);
    const written = readFileSync(path, 'utf8');
    expect(await decryptIndependently(written)).toMatchObject({ stringData: { key: 'value', db: { password: 's3cret' } } });
    expect(await checkMac(written)).toBe(true);
    const err = await sigilErrorOf(s.write([{ name: 'metadata/name', value: Buffer.from('x') }]));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(readFileSync(path, 'utf8')).toBe(written);
    expect(await s.delete('stringData/db/password')).toBe(true);
    expect(await s.delete('stringData/db/password')).toBe(false);
    expect(await decryptIndependently(readFileSync(path, 'utf8'))).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'value' } });
  });

  it('names what is missing: the file, or an identity to open it', async () => {
    const missing = new SopsStore({ file: { path: join(dir, 'nope.yaml'), prefix: 'x/', format: 'yaml' }, identity: async () => FIXTURE_IDENTITY });
    expect((await sigilErrorOf(missing.get('a'))).code).toBe(ErrorCode.NOT_FOUND);
    writeFileSync(path, FIXTURE_YAML);
    const err = await sigilErrorOf(store(null).get('stringData/key'));
    expect(err.code).toBe(ErrorCode.NOT_FOUND);
    expect(err.message).toContain('sigil age-key --import');
  });

  it('answers LOCKED once closed', async () => {
    writeFileSync(path, FIXTURE_YAML);
    const s = store();
    await s.get('stringData/key');
    await s.close();
    expect((await sigilErrorOf(s.get('stringData/key'))).code).toBe(ErrorCode.LOCKED);
  });
});

describe('SOPS crash safety', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-sops-crash-'));
    script = join(dir, 'sops-writer.mjs');
    await bundleWriter(join(import.meta.dirname, '../fixtures/sops-writer.ts'), script);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`keeps the old or the new file, whole, across ${KILLS} SIGKILLs`, async () => {
    const path = join(dir, 'secrets.enc.yaml');
    const filler = Object.fromEntries(Array.from({ length: FILLER }, (_, i) => [`stringData/filler${i}`, `value-${i}`]));
    writeFileSync(path, await edited(FIXTURE_YAML, filler));
    const key = await unwrapDataKey(readSops(FIXTURE_YAML, 'yaml', 'f'), FIXTURE_IDENTITY);
    let previous = 0;
    let acknowledged = 0;
    let midWrite = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      // A SOPS write is mostly CPU (decrypt, MAC, encrypt, check): the kill may land anywhere in one.
      const run = await runAndKill(script, [path], FIXTURE_IDENTITY, Math.random() * 300, kill % 2 === 1);
      expect(run.stderr).toBe('');
      if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) midWrite++;
      // Whole: it opens, every value decrypts, the MAC matches.
      const file = openSops(readFileSync(path, 'utf8'), 'yaml', key, path);
      const value = Number(file.entries.get('stringData/counter')?.plain.bytes.toString() ?? '0');
      const floor = run.lastAck ?? run.ready ?? previous;
      expect(value).toBeGreaterThanOrEqual(floor);
      expect(value).toBeLessThanOrEqual(floor + 1);
      expect(file.entries.get('stringData/filler7')?.plain.bytes.toString()).toBe('value-7');
      expect(file.entries.size).toBe(4 + FILLER + (value > 0 ? 1 : 0));
      acknowledged += (run.lastAck ?? floor) - (run.ready ?? floor);
      if (value > floor) midWrite++; // landed between the rename and its acknowledgement
      previous = value;
    }
    expect(acknowledged).toBeGreaterThanOrEqual(KILLS / 2);
    // The windows this test is about were really hit.
    expect(midWrite, 'kills that landed inside a write').toBeGreaterThan(0);
    expect(await checkMac(readFileSync(path, 'utf8'))).toBe(true);
    // Temp files a kill stranded hold ciphertext only, beside the file; the next open sweeps them.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length).toBeLessThanOrEqual(KILLS);
  }, 120_000);
});
