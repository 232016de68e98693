/**
 * Test material for the SOPS store: the real sops 3.9 files of ../shared/fixtures/sops/ and
 * an independent check of what Sigilforge writes. sops-age decrypts values but does not
 * check the MAC (its decrypt() leaves that step empty), so checkMac recomputes it from
 * sops-age's output as getsops/sops sops.go does, with the data key unwrapped by typage.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { armor, Decrypter } from 'age-encryption';
import { decryptSops } from 'sops-age';
import { parse } from 'yaml';

export const FIXTURES = join(import.meta.dirname, '../fixtures/sops');
/** The fixtures' throwaway age identity (published with them). */
export const FIXTURE_IDENTITY = readFileSync(join(FIXTURES, 'age.txt'), 'utf8').match(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m)![0];
export const FIXTURE_YAML = readFileSync(join(FIXTURES, 'secret-age.yaml'), 'utf8');

/** The same file as sops writes JSON: the values, their ciphertexts and the MAC do not depend on the format. */
export function fixtureAsJson(): string {
  return JSON.stringify(parse(FIXTURE_YAML), null, '\t') + '\n';
}

export function decryptIndependently(text: string, fileType: 'yaml' | 'json' = 'yaml'): Promise<Record<string, unknown>> {
  return decryptSops(text, { fileType, secretKey: FIXTURE_IDENTITY }) as Promise<Record<string, unknown>>;
}

/** True when the file's MAC matches its values (sops.go Tree.Decrypt + cmd/sops decrypt). */
export async function checkMac(text: string, fileType: 'yaml' | 'json' = 'yaml'): Promise<boolean> {
  const tree = fileType === 'json' ? JSON.parse(text) : parse(text);
  const meta = tree.sops;
  const d = new Decrypter();
  d.addIdentity(FIXTURE_IDENTITY);
  const key = Buffer.from(await d.decrypt(armor.decode(meta.age[0].enc)));
  const plain = await decryptIndependently(text, fileType);
  const hash = createHash('sha512');
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v === 'object') return Object.values(v as object).forEach(walk);
    hash.update(typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));
  };
  walk(plain);
  const m = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:str\]$/.exec(meta.mac)!;
  const dec = createDecipheriv('aes-256-gcm', key, Buffer.from(m[2]!, 'base64'));
  dec.setAAD(Buffer.from(meta.lastmodified));
  dec.setAuthTag(Buffer.from(m[3]!, 'base64'));
  const mac = Buffer.concat([dec.update(Buffer.from(m[1]!, 'base64')), dec.final()]).toString();
  return mac === hash.digest('hex').toUpperCase();
}

/**
 * A SOPS file holding `data` (YAML whose encrypted values are all ""), under the fixture's
 * metadata and data key: sops writes "" for an empty value, so only the MAC is computed
 * here (over the values in order, the empty ones adding nothing), and Sigilforge fills in
 * the rest. Lists, nesting and encrypted_regex without a sops binary.
 */
export async function emptySopsFile(data: string): Promise<string> {
  const meta = FIXTURE_YAML.slice(FIXTURE_YAML.indexOf('\nsops:\n') + 1);
  const lastmodified = '2024-11-12T13:33:42Z';
  const hash = createHash('sha512');
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v === 'object') return Object.values(v as object).forEach(walk);
    hash.update(String(v));
  };
  walk(parse(data));
  const d = new Decrypter();
  d.addIdentity(FIXTURE_IDENTITY);
  const key = Buffer.from(await d.decrypt(armor.decode(parse(FIXTURE_YAML).sops.age[0].enc)));
  const iv = randomBytes(32);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(lastmodified));
  const ct = Buffer.concat([c.update(hash.digest('hex').toUpperCase()), c.final()]);
  const mac = `ENC[AES256_GCM,data:${ct.toString('base64')},iv:${iv.toString('base64')},tag:${c.getAuthTag().toString('base64')},type:str]`;
  return data + meta.replace(/^  mac: .*$/m, `  mac: ${mac}`).replace(/^  lastmodified: .*$/m, `  lastmodified: "${lastmodified}"`);
}
