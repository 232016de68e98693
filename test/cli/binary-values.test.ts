/**
 * Values are bytes end to end (issue 10 item 8): a value that is not UTF-8 text goes in and
 * comes out unchanged through the CLI, the protocol, the vault across a restart, history and
 * rollback, resolve and inject — and `sigil run`, which cannot put it in an environment
 * variable, refuses rather than corrupt it.
 */
import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/client/agent-client.js';
import { running, sandboxEach } from '../agent/helpers.js';
import { eventually, TEST_PASSPHRASE, type Sandbox } from '../support/sandbox.js';

/** 256 random bytes that are certainly not UTF-8 text (0xff never occurs in UTF-8), ending in a newline byte. */
function binaryValue(): Buffer {
  const value = randomBytes(256);
  value[0] = 0xff;
  value[255] = 0x0a; // a trailing 0x0a is part of a binary value, not a line end to drop
  expect(isUtf8(value)).toBe(false);
  return value;
}

describe('binary values', () => {
  let sb: Sandbox;
  sandboxEach((s) => (sb = s));

  it('binary values survive set/get through the CLI (256 random bytes), a restart, history and rollback', async () => {
    const pid = await sb.startAgent();
    await sb.initAndUnlock();
    const value = binaryValue();

    expect((await sb.sigil(['secret', 'set', 'blob/key', '--stdin'], { input: value })).code).toBe(0);
    const got = await sb.sigil(['secret', 'get', 'blob/key']);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdoutBytes.equals(value)).toBe(true); // raw, no newline added
    expect((await sb.sigil(['resolve', 'secret://blob/key'])).stdoutBytes.equals(value)).toBe(true);
    expect(JSON.parse((await sb.sigil(['secret', 'get', 'blob/key', '--json'])).stdout)).toEqual({
      name: 'blob/key',
      value: value.toString('base64'),
      encoding: 'base64',
    });

    // Text stays text: one trailing newline dropped on the way in, one added on the way out.
    expect((await sb.sigil(['secret', 'set', 'blob/key', '--stdin'], { input: 'now text\n' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'blob/key'])).stdout).toBe('now text\n');
    expect((await sb.sigil(['secret', 'rollback', 'blob/key', '1'])).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'blob/key'])).stdoutBytes.equals(value)).toBe(true);

    process.kill(pid, 'SIGTERM');
    await eventually(() => !running(pid));
    await sb.startAgent();
    expect((await sb.sigil(['unlock', '--passphrase-stdin'], { input: TEST_PASSPHRASE + '\n' })).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'blob/key'])).stdoutBytes.equals(value)).toBe(true);
    expect((await sb.sigil(['secret', 'rollback', 'blob/key', '2'])).code).toBe(0);
    expect((await sb.sigil(['secret', 'get', 'blob/key'])).stdout).toBe('now text\n');
  });

  it('binary values survive sigil inject byte for byte; sigil run refuses one naming the variable', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const value = binaryValue();
    expect((await sb.sigil(['secret', 'set', 'blob/key', '--stdin'], { input: value })).code).toBe(0);

    const template = join(sb.home, 'key.tpl');
    writeFileSync(template, Buffer.concat([Buffer.from('begin\n'), Buffer.from('{{ secret://blob/key }}'), Buffer.from('\nend\n')]));
    const out = join(sb.home, 'key.out');
    expect((await sb.sigil(['inject', '-i', template, '-o', out])).code).toBe(0);
    expect(readFileSync(out).equals(Buffer.concat([Buffer.from('begin\n'), value, Buffer.from('\nend\n')]))).toBe(true);

    const run = await sb.sigil(['run', '--', 'sh', '-c', 'echo started'], { env: { KEY_DER: 'secret://blob/key' } });
    expect(run.code).toBe(2); // BAD_REQUEST
    expect(run.stdout).toBe(''); // nothing started
    expect(run.stderr).toContain('KEY_DER: the value of secret://blob/key is binary (not UTF-8 text)');
  });

  it('binary values survive set/get through the protocol (\\xff\\xfe\\x00ok): bin back, text stays a str', async () => {
    await sb.startAgent();
    await sb.initAndUnlock();
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const bytes = Buffer.from('\xff\xfe\x00ok', 'latin1');
      await client.request('set_secret', { name: 'proto/bin', value: bytes });
      const got = await client.request<{ value: unknown }>('get_secret', { name: 'proto/bin' });
      expect(got.value).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got.value as Uint8Array).equals(bytes)).toBe(true);
      const resolved = await client.request<{ value: unknown }>('resolve', { ref: 'secret://proto/bin' });
      expect(Buffer.from(resolved.value as Uint8Array).equals(bytes)).toBe(true);

      // A client that reads strings keeps working for text, whether it was sent as str or bin.
      await client.request('set_secret', { name: 'proto/text', value: Buffer.from('plain ✓ text') });
      expect((await client.request<{ value: unknown }>('get_secret', { name: 'proto/text' })).value).toBe('plain ✓ text');
    } finally {
      client.close();
    }
  });
});
