import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { decryptWithPassphrase } from '../../src/stores/scrypt-stanza.js';
import { sigilPaths } from '../../src/util/paths.js';
import { writeConfig } from '../oauth/flow-helpers.js';
import { Sandbox, TEST_PASSPHRASE, TEST_WORK_FACTOR } from '../support/sandbox.js';

/**
 * Devices for the sync tests: each a sandbox HOME with its own agent, all syncing through one
 * bare repository (the remote). Every device's passphrase is TEST_PASSPHRASE.
 */
export class Devices {
  readonly dir = mkdtempSync(join(tmpdir(), 'sigil-sync-'));
  readonly remote = join(this.dir, 'remote.git');
  private readonly all: Sandbox[] = [];

  /** `config`: config.toml of every device, written before its agent starts. */
  constructor(private readonly config?: string) {
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch', 'main', this.remote]);
  }

  /** A device with a vault that does not sync (yet). */
  async plain(env: Record<string, string> = {}): Promise<Sandbox> {
    const sb = this.track(new Sandbox(), env);
    await sb.startAgent();
    await sb.initAndUnlock();
    return sb;
  }

  /** The first device: a vault with `sigil sync init`. */
  async first(name = 'a', env: Record<string, string> = {}, remote = this.remote): Promise<Sandbox> {
    const sb = await this.plain(env);
    await ok(sb, ['sync', 'init', remote, '--name', name]);
    return sb;
  }

  /** A device that joins, is added by `adder`, syncs and unlocks. */
  async join(adder: Sandbox, name: string, env: Record<string, string> = {}, remote = this.remote): Promise<Sandbox> {
    const sb = await this.joinOnly(name, env, remote);
    await ok(adder, ['device', 'add', name, recipientOf(sb)]);
    await ok(sb, ['sync']);
    await ok(sb, ['unlock', '--passphrase-stdin'], TEST_PASSPHRASE + '\n');
    return sb;
  }

  /** `sigil join` alone: the device has its key and the clone, and is in no one's devices yet. */
  async joinOnly(name: string, env: Record<string, string> = {}, remote = this.remote): Promise<Sandbox> {
    const sb = this.track(new Sandbox(), env);
    await sb.startAgent();
    const r = await ok(sb, ['join', remote, '--name', name, '--passphrase-stdin', '--scrypt-work-factor', TEST_WORK_FACTOR], TEST_PASSPHRASE + '\n');
    expect(r.stdout.trim()).toMatch(/^age1[0-9a-z]{58}$/);
    return sb;
  }

  /** A git hook in the remote (pre-receive, post-receive…): a shell script body. */
  hook(name: string, body: string | null): void {
    const path = join(this.remote, 'hooks', name);
    if (body === null) return rmSync(path, { force: true });
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
  }

  /** The remote's main branch: its commits (newest first). */
  log(): string[] {
    return execFileSync('git', ['-C', this.remote, 'log', '--format=%H %s', 'main'], { encoding: 'utf8' }).trim().split('\n');
  }

  /** A file as the remote's main has it. */
  show(path: string): Buffer {
    return execFileSync('git', ['-C', this.remote, 'show', `main:${path}`]);
  }

  /** `env`: added to everything the device runs (its agent, its CLI). */
  private track(sb: Sandbox, env: Record<string, string> = {}): Sandbox {
    Object.assign(sb.env, env);
    this.all.push(sb);
    if (this.config !== undefined) writeConfig(sb, this.config);
    return sb;
  }

  cleanup(): void {
    for (const sb of this.all) sb.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function ok(sb: Sandbox, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const r = await sb.sigil(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`sigil ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

export async function setSecret(sb: Sandbox, name: string, value: string): Promise<void> {
  await ok(sb, ['secret', 'set', name, '--stdin'], value);
}

export async function getSecret(sb: Sandbox, name: string): Promise<string | null> {
  const r = await sb.sigil(['secret', 'get', name]);
  if (r.code === 7) return null;
  if (r.code !== 0) throw new Error(`secret get ${name}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

export async function secretNames(sb: Sandbox): Promise<string[]> {
  return (await ok(sb, ['secret', 'list'])).stdout.split('\n').filter(Boolean);
}

export function recipientOf(sb: Sandbox): string {
  return (JSON.parse(readFileSync(sigilPaths(sb.env).thisDevice, 'utf8')) as { recipient: string }).recipient;
}

/** The device's X25519 identity (AGE-SECRET-KEY-1…), decrypted from identity.age with its passphrase. */
export async function identityOf(sb: Sandbox): Promise<string> {
  const text = Buffer.from(await decryptWithPassphrase(readFileSync(sigilPaths(sb.env).identity), Buffer.from(TEST_PASSPHRASE))).toString('utf8');
  return /^AGE-SECRET-KEY-1[0-9A-Z]+$/m.exec(text)![0];
}

/** `age -d` of `sealed` with `identity`: the plaintext, or null when age cannot decrypt it. */
export function ageDecrypt(dir: string, identity: string, sealed: Buffer): string | null {
  const key = join(dir, `key-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(key, identity + '\n', { mode: 0o600 });
  try {
    return execFileSync('age', ['-d', '-i', key], { input: sealed, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
  } catch {
    return null;
  } finally {
    rmSync(key, { force: true });
  }
}
