import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valsGet } from '../../../src/agent/refs/vals-cli.js';
import { parseRef, type ValsRef } from '../../../src/protocol/refs.js';
import { sigilErrorOf } from '../../support/errors.js';

/**
 * Running `vals get`: the real vals is a Go binary not installable here, so small scripts
 * stand in for it, each behaving as vals does in one case (a value, an error on stderr and
 * exit 1) or as a broken backend would (no answer, a flood).
 */
describe('vals get', () => {
  let dir: string;
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const ref = (text: string) => parseRef(text) as ValsRef;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigil-vals-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the expression as one argument, no shell, and returns the value byte for byte', async () => {
    const program = script('args', 'printf "%s|%s|" "$#" "$1"; printf "%s" "$2"');
    const value = await valsGet(ref('ref+vault://kv/a;b$(id)?x=1&y=`id`#/pw'), { program });
    expect(value.toString()).toBe('2|get|ref+vault://kv/a;b$(id)?x=1&y=`id`#/pw');
  });

  it('cuts a long stderr, makes it safe to print, and leaves the query out of its own words', async () => {
    const program = script('flood', 'printf "\\033]0;title\\007" >&2; head -c 10000 /dev/zero | tr "\\0" x >&2; exit 1');
    const err = await sigilErrorOf(valsGet(ref('ref+vault://kv/a?secret_id=s3cr3t'), { program }));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message.startsWith('vals get ref+vault://kv/a?… failed (ref+vault://): \\x1b]0;title\\x07xxx')).toBe(true);
    expect(err.message.length).toBeLessThan(2200);
    expect(err.message).not.toContain('s3cr3t');
  });

  it('a vals that does not answer is stopped and named', async () => {
    const program = script('hang', 'exec sleep 30');
    const err = await sigilErrorOf(valsGet(ref('ref+vault://kv/a'), { program, timeoutMs: 200 }));
    expect(err).toMatchObject({ code: 'PROVIDER_ERROR', message: 'vals get ref+vault://kv/a did not answer within 200 ms' });
  });

  it('a value larger than a secret can be is refused, not truncated', async () => {
    const program = script('big', 'head -c 600000 /dev/zero');
    const err = await sigilErrorOf(valsGet(ref('ref+vault://kv/a'), { program }));
    expect(err).toMatchObject({ code: 'PROVIDER_ERROR', message: 'vals get ref+vault://kv/a: the value is larger than 512 KiB' });
  });

  it('no vals: NOT_FOUND naming the backend', async () => {
    const err = await sigilErrorOf(valsGet(ref('ref+gcpsecrets://proj/s'), { program: join(dir, 'none') }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('ref+gcpsecrets:// needs the vals CLI');
  });
});
