import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generateX25519Identity } from 'age-encryption';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { openSops, readSops, unwrapDataKey, writeSops, type OpenedSops } from '../../../src/stores/sops/sops-file.js';
import { goFloat } from '../../../src/stores/sops/sops-value.js';
import { checkMac, decryptIndependently, emptySopsFile, FIXTURE_IDENTITY, FIXTURE_YAML, fixtureAsJson } from './sops-helpers.js';
import { sigilErrorOf } from '../../support/errors.js';

/** The SigilError of `p` (a promise, or a function that may throw at once), with its code checked. */
async function expectSigilError(p: Promise<unknown> | (() => unknown), code: string) {
  const err = await sigilErrorOf(typeof p === 'function' ? Promise.resolve().then(p) : p);
  expect(err.code).toBe(code);
  return err;
}

async function open(text: string, format: 'yaml' | 'json' = 'yaml'): Promise<OpenedSops> {
  return openSops(text, format, await unwrapDataKey(readSops(text, format, 'f.yaml'), FIXTURE_IDENTITY), 'f.yaml');
}

function values(file: OpenedSops): Record<string, string> {
  return Object.fromEntries([...file.entries].map(([name, e]) => [name, e.plain.bytes.toString()]));
}

const NOW = new Date('2026-12-03T12:00:00.250Z');

describe('SOPS files written by the real sops 3.9', () => {
  it('reads the fixture: every value, in order, with its MAC checked', async () => {
    const file = await open(FIXTURE_YAML);
    expect(values(file)).toEqual({ apiVersion: 'v1', kind: 'Secret', 'metadata/name': 'age', 'stringData/key': 'value' });
    expect(file.recipients).toEqual(['age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29']);
  });

  it('the independent MAC check agrees with sops on its own file, and fails a changed one', async () => {
    expect(await checkMac(FIXTURE_YAML)).toBe(true);
    expect(await checkMac(FIXTURE_YAML.replace('kind: Secret', 'kind: ConfigMap'))).toBe(false);
  });

  it('reads the same file as JSON', async () => {
    expect(values(await open(fixtureAsJson(), 'json'))['stringData/key']).toBe('value');
  });
});

describe('writing back', () => {
  it('changes only the value, lastmodified and the MAC; sops-age decrypts it and the MAC checks out', async () => {
    const next = writeSops(await open(FIXTURE_YAML), [{ name: 'stringData/key', value: Buffer.from('rotated') }], NOW, 'f.yaml');
    const before = FIXTURE_YAML.split('\n');
    const after = next.text.split('\n');
    expect(after.length).toBe(before.length);
    const changed = after.flatMap((line, i) => (line === before[i] ? [] : [line.split(':')[0]!.trim()]));
    expect(changed).toEqual(['key', 'lastmodified', 'mac']);
    expect(next.text).toContain('lastmodified: "2026-12-03T12:00:00Z"');
    expect(await decryptIndependently(next.text)).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'rotated' } });
    expect(await checkMac(next.text)).toBe(true);
    // And round-trips through Sigilforge.
    expect(values(await open(next.text))['stringData/key']).toBe('rotated');
  });

  it('keeps a file indented by 4 (as sops 3.9 writes YAML) indented by 4', async () => {
    for (const style of [{ indent: 4, indentSeq: true }, { indent: 4, indentSeq: false }]) {
      const text = parseDocument(FIXTURE_YAML).toString({ lineWidth: 0, ...style });
      const next = writeSops(await open(text), [{ name: 'stringData/key', value: Buffer.from('rotated') }], NOW, 'f.yaml');
      const before = text.split('\n');
      expect(next.text.split('\n').flatMap((line, i) => (line === before[i] ? [] : [line.split(':')[0]!.trim()]))).toEqual(['key', 'lastmodified', 'mac']);
      expect(await checkMac(next.text)).toBe(true);
    }
  });

  it('adds nested keys before the metadata and removes them with the maps they leave empty', async () => {
    const added = writeSops(await open(FIXTURE_YAML), [{ name: 'stringData/db/password', value: Buffer.from('hunter2') }, { name: 'data/token', value: Buffer.from('t0k') }], NOW, 'f.yaml');
    expect(added.text.indexOf('data:\n  token:')).toBeLessThan(added.text.indexOf('\nsops:'));
    expect(await decryptIndependently(added.text)).toMatchObject({ stringData: { key: 'value', db: { password: 'hunter2' } }, data: { token: 't0k' } });
    expect(await checkMac(added.text)).toBe(true);
    const removed = writeSops(added, [{ name: 'stringData/db/password', value: null }, { name: 'data/token', value: null }], NOW, 'f.yaml');
    expect(await decryptIndependently(removed.text)).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'value' } });
    expect(await checkMac(removed.text)).toBe(true);
  });

  it('writes JSON as sops does, and sops-age reads it', async () => {
    const next = writeSops(await open(fixtureAsJson(), 'json'), [{ name: 'stringData/key', value: Buffer.from('<json & co>') }], NOW, 'f.json');
    expect(next.text).toMatch(/^\{\n\t"apiVersion": "v1",\n/);
    expect(await decryptIndependently(next.text, 'json')).toMatchObject({ stringData: { key: '<json & co>' } });
    expect(await checkMac(next.text, 'json')).toBe(true);
  });

  it('keeps unencrypted numbers, flags and nulls of a JSON file as they were, and in the MAC', async () => {
    const yaml = await emptySopsFile('metadata:\n  replicas: 3\n  ratio: 1.5\n  none: null\nstringData:\n  key: ""\n');
    const json = JSON.stringify(parseDocument(yaml).toJSON(), null, '\t').replace('"ratio": 1.5', '"ratio": 1.50') + '\n';
    const next = writeSops(await open(json, 'json'), [{ name: 'stringData/key', value: Buffer.from('v') }], NOW, 'f.json');
    expect(next.text).toContain('\t\t"replicas": 3,\n\t\t"ratio": 1.50,\n\t\t"none": null\n');
    expect(await decryptIndependently(next.text, 'json')).toMatchObject({ metadata: { replicas: 3, ratio: 1.5, none: null }, stringData: { key: 'v' } });
    expect(await checkMac(next.text, 'json')).toBe(true);
  });

  it('fills a file of nested lists under encrypted_regex, item by item', async () => {
    const text = await emptySopsFile(
      ['apiVersion: v1', 'kind: Secret', 'data:', '  servers:', '    - name: ""', '      ports: ["", ""]', '    - name: ""', '  matrix:', '    - - ""', '      - ""', '    - - ""', 'stringData:', '  key: ""', ''].join('\n'),
    );
    const file = await open(text);
    expect([...file.entries.keys()]).toEqual(['apiVersion', 'kind', 'data/servers/0/name', 'data/servers/0/ports/0', 'data/servers/0/ports/1', 'data/servers/1/name', 'data/matrix/0/0', 'data/matrix/0/1', 'data/matrix/1/0', 'stringData/key']);
    const names = [...file.entries.keys()].filter((n) => n.startsWith('data/') || n.startsWith('stringData/'));
    const next = writeSops(file, names.map((n) => ({ name: n, value: Buffer.from(`v:${n}`) })), NOW, 'f.yaml');
    expect(await decryptIndependently(next.text)).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      data: {
        servers: [{ name: 'v:data/servers/0/name', ports: ['v:data/servers/0/ports/0', 'v:data/servers/0/ports/1'] }, { name: 'v:data/servers/1/name' }],
        matrix: [['v:data/matrix/0/0', 'v:data/matrix/0/1'], ['v:data/matrix/1/0']],
      },
      stringData: { key: 'v:stringData/key' },
    });
    expect(await checkMac(next.text)).toBe(true);
    expect(values(await open(next.text))['data/matrix/1/0']).toBe('v:data/matrix/1/0');
  });

  it('keeps a number a number and a flag a flag when the new value is one', async () => {
    const text = await emptySopsFile('data:\n  port: ""\n');
    const typed = await open(text);
    // An int as sops writes it: type:int, read back as 5432.
    const withInt = writeSops(typed, [{ name: 'data/port', value: Buffer.from('5432') }], NOW, 'f.yaml');
    expect(withInt.entries.get('data/port')!.plain.type).toBe('str');
    withInt.entries.get('data/port')!.plain.type = 'int'; // as if sops had written `port: 5432`
    const next = writeSops(withInt, [{ name: 'data/port', value: Buffer.from('5433') }], NOW, 'f.yaml');
    expect(next.text).toMatch(/port: ENC\[AES256_GCM,.*type:int\]/);
    expect(await decryptIndependently(next.text)).toEqual({ data: { port: 5433 } });
    expect(await checkMac(next.text)).toBe(true);
  });
});

describe('refusals: a clear error and nothing written', () => {
  it('a file whose recipients do not include this device', async () => {
    const other = await generateX25519Identity();
    const err = await expectSigilError(unwrapDataKey(readSops(FIXTURE_YAML, 'yaml', 'f.yaml'), other), ErrorCode.FORBIDDEN);
    expect(err.message).toContain('age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29');
    expect(err.message).toContain('sops updatekeys');
  });

  it('a bad MAC: an unencrypted value changed by hand', async () => {
    const tampered = FIXTURE_YAML.replace('kind: Secret', 'kind: ConfigMap');
    const err = await expectSigilError(open(tampered), ErrorCode.INTERNAL);
    expect(err.message).toContain('MAC mismatch');
  });

  it('a key defined twice', async () => {
    const twice = FIXTURE_YAML.replace('kind: Secret', 'kind: Secret\nkind: Secret');
    expect((await expectSigilError(open(twice), ErrorCode.INTERNAL)).message).toContain('kind is defined twice');
  });

  it('a tampered value: a ciphertext moved to another key', async () => {
    const enc = /key: (ENC\[.*\])/.exec(FIXTURE_YAML)![1]!;
    const moved = FIXTURE_YAML.replace('stringData:\n  key:', `stringData:\n  other: ${enc}\n  key:`);
    const err = await expectSigilError(open(moved), ErrorCode.INTERNAL);
    expect(err.message).toContain('stringData/other does not decrypt');
  });

  it('a value the rules would leave in clear, a value that is not text, a path through a value', async () => {
    const file = await open(FIXTURE_YAML);
    for (const [name, value, says] of [
      ['metadata/name', 'x', 'encrypted_regex "^(data|stringData)$"'],
      ['stringData/bin', '\xff\xfe', 'not UTF-8'],
      ['stringData/key/deeper', 'x', 'stringData/key is a value, not a map'],
    ] as const) {
      const err = await expectSigilError(async () => writeSops(file, [{ name, value: Buffer.from(value, 'latin1') }], NOW, 'f.yaml'), ErrorCode.BAD_REQUEST);
      expect(err.message).toContain(says);
    }
    expect(values(file)['stringData/key']).toBe('value');
  });
});

describe('goFloat (Go strconv.FormatFloat(v, "f", -1, 64))', () => {
  it('prints the shortest digits without an exponent', () => {
    expect([1.5, 1e21, 1.25e-7, -3e-10, 100, 0.1].map(goFloat)).toEqual(['1.5', '1000000000000000000000', '0.000000125', '-0.0000000003', '100', '0.1']);
  });
});
