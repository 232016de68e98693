import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Sandbox } from '../support/sandbox.js';
import { FIXTURES } from '../stores/sops/sops-helpers.js';

/**
 * vals references (`ref+BACKEND://…`) end to end, through the built agent and CLI:
 * ref+file and ref+sops read by Sigilforge, every other backend by the `vals` CLI. The real
 * vals is a Go binary that cannot be installed here, so a shell script stands in for it on
 * the agent's PATH: `vals get ref+echo://X` prints X (as vals' echo backend does), and any
 * other backend fails on stderr with exit 1, as vals does.
 */
const STAND_IN = `#!/bin/sh
# Stand-in for the vals CLI (helmfile/vals), for tests only.
[ "$1" = get ] || { echo "unknown command $1" >&2; exit 2; }
case "$2" in
  ref+echo://*) v="\${2#ref+echo://}"; printf %s "\${v%%[?#]*}" ;;
  *) echo "expand $2: backend unreachable: connection refused" >&2; exit 1 ;;
esac
`;

describe('vals references', () => {
  let sb: Sandbox;
  let valsDir: string;
  let work: string;
  beforeAll(async () => {
    sb = new Sandbox();
    valsDir = join(sb.home, 'vals-bin');
    mkdirSync(valsDir);
    writeFileSync(join(valsDir, 'vals'), STAND_IN);
    chmodSync(join(valsDir, 'vals'), 0o755);
    work = join(sb.home, 'proj');
    mkdirSync(join(work, 'conf'), { recursive: true });
    writeFileSync(join(work, 'conf', 'app.yaml'), 'db:\n  password: yaml-pw\n  port: 5432\nlist: [a, b]\n');
    writeFileSync(join(work, 'conf', 'app.json'), '{"api": {"key": "json-key"}}');
    writeFileSync(join(work, 'token.txt'), 'whole-file-token\n');
    writeFileSync(join(work, 'secrets.enc.yaml'), readFileSync(join(FIXTURES, 'secret-age.yaml')));
    await sb.startAgent([], { PATH: `${valsDir}:${process.env.PATH}` });
    await sb.initAndUnlock();
  });
  afterAll(() => sb.cleanup());

  const resolveIn = (ref: string) => sb.sigil(['resolve', ref], { cwd: work });

  it('ref+file: the whole file, or the value at #/path of its YAML or JSON, relative to the working directory', async () => {
    expect(await resolveIn('ref+file://token.txt')).toMatchObject({ code: 0, stdout: 'whole-file-token\n\n' }); // the file's bytes, its newline included, as vals reads it
    expect(await resolveIn('ref+file://conf/app.yaml#/db/password')).toMatchObject({ code: 0, stdout: 'yaml-pw\n' });
    expect(await resolveIn('vals:ref+file://conf/app.yaml#/db/port+')).toMatchObject({ code: 0, stdout: '5432\n' });
    expect(await resolveIn(`ref+file://${work}/conf/app.json#/api/key`)).toMatchObject({ code: 0, stdout: 'json-key\n' });
    expect(await resolveIn('ref+file://conf/app.yaml#/list/1')).toMatchObject({ code: 0, stdout: 'b\n' });
  });

  it('ref+file: a missing file or key is NOT_FOUND, a map is no value, each named', async () => {
    const noFile = await resolveIn('ref+file://nope.yaml');
    expect(noFile.code).toBe(7);
    expect(noFile.stderr).toContain(`no file at ${work}/nope.yaml`);
    const noKey = await resolveIn('ref+file://conf/app.yaml#/db/user');
    expect(noKey.code).toBe(7);
    expect(noKey.stderr).toContain('has no value at #/db/user');
    const map = await resolveIn('ref+file://conf/app.yaml#/db');
    expect(map.code).toBe(2);
    expect(map.stderr).toContain('#/db is a map or a list, not one value');
  });

  it('ref+sops: decrypts a file that is not in [[storage.sops]] with the device age identity', async () => {
    const before = await resolveIn('ref+sops://secrets.enc.yaml#/stringData/key');
    expect(before.code).toBe(7);
    expect(before.stderr).toContain('sigil age-key --import');
    expect((await sb.sigil(['age-key', '--import'], { input: readFileSync(join(FIXTURES, 'age.txt')) })).code).toBe(0);
    expect(await resolveIn('ref+sops://secrets.enc.yaml#/stringData/key')).toMatchObject({ code: 0, stdout: 'value\n' });
    const missing = await resolveIn('ref+sops://secrets.enc.yaml#/stringData/nope');
    expect(missing.code).toBe(7);
    const whole = await resolveIn('ref+sops://secrets.enc.yaml');
    expect(whole.code).toBe(2);
    expect(whole.stderr).toContain('not a binary SOPS file');
    const param = await resolveIn('ref+sops://secrets.enc.yaml?key_type=base64#/stringData/key');
    expect(param.code).toBe(2);
    expect(param.stderr).toContain('takes only ?format=');
  });

  it('other backends: vals get, its value exactly', async () => {
    expect(await sb.sigil(['resolve', 'ref+echo://foo/bar'])).toMatchObject({ code: 0, stdout: 'foo/bar\n' });
    expect(await sb.sigil(['check', 'ref+echo://ok'])).toMatchObject({ code: 0 });
  });

  it('a failing vals: PROVIDER_ERROR with what vals said', async () => {
    const r = await sb.sigil(['resolve', 'ref+vault://kv/app#/pw']);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain('vals get ref+vault://kv/app#/pw failed (ref+vault://): expand ref+vault://kv/app#/pw: backend unreachable: connection refused');
  });

  it('run and inject resolve vals references like the others', async () => {
    const run = await sb.sigil(['run', '--no-masking', '--', 'sh', '-c', 'printf "%s|%s" "$A" "$B"'], { cwd: work, env: { A: 'ref+file://conf/app.yaml#/db/password', B: 'ref+echo://from-vals' } });
    expect(run).toMatchObject({ code: 0, stdout: 'yaml-pw|from-vals' });
    const tpl = join(work, 'app.tpl');
    writeFileSync(tpl, 'pw={{ ref+file://conf/app.yaml#/db/password }} key={{ref+sops://secrets.enc.yaml#/stringData/key}} v={{ vals:ref+echo://x }}\n');
    expect(await sb.sigil(['inject', '-i', tpl], { cwd: work })).toMatchObject({ code: 0, stdout: 'pw=yaml-pw key=value v=x\n' });
    const bad = await sb.sigil(['run', '--', 'true'], { env: { A: 'ref+vault://kv/x' } });
    expect(bad.code).toBe(10);
    expect(bad.stderr).toContain('A: cannot resolve ref+vault://kv/x');
  });

  // A vault expression may carry credentials as parameters: neither they nor values reach the audit log.
  it('audits each access by its reference without the query string, never the value', async () => {
    expect(await sb.sigil(['resolve', 'ref+echo://echoed-value?secret_id=hunter2'])).toMatchObject({ code: 0, stdout: 'echoed-value\n' });
    await eventually(() => sb.auditEntries().some((e) => e.op === 'resolve' && e.target === 'ref+echo://echoed-value?…'));
    const text = readFileSync(sb.auditPath, 'utf8');
    expect(text).not.toContain('hunter2');
    for (const value of ['yaml-pw', 'whole-file-token', 'json-key', '"value"']) expect(text).not.toContain(value);
    expect(sb.auditEntries().some((e) => e.op === 'resolve' && e.target === `ref+sops://${work}/secrets.enc.yaml#/stringData/key` && e.result === 'ok')).toBe(true);
  });

  it('without vals on the agent PATH: NOT_FOUND naming the backend', async () => {
    rmSync(join(valsDir, 'vals'));
    const r = await sb.sigil(['resolve', 'ref+awssecrets://team/db']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("ref+awssecrets:// needs the vals CLI, and there is none on the agent's PATH");
  });

  it('a locked agent resolves none of them', async () => {
    expect((await sb.sigil(['lock'])).code).toBe(0);
    expect((await resolveIn('ref+file://token.txt')).code).toBe(4);
  });
});
