/** A SecretStore that keeps everything in process memory: for tests and as a reference. */
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { SecretStore } from './secret-store.js';

export class MemoryStore implements SecretStore {
  readonly name = 'memory';
  private entries = new Map<string, Buffer>();
  private closed = false;

  async get(key: string): Promise<Buffer | null> {
    return this.peek(key);
  }

  peek(key: string): Buffer | null {
    this.assertOpen();
    const value = this.entries.get(key);
    return value === undefined ? null : Buffer.from(value);
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.assertOpen();
    const old = this.entries.get(key);
    this.entries.set(key, Buffer.from(value));
    old?.fill(0);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const old = this.entries.get(key);
    if (old === undefined) return false;
    this.entries.delete(key);
    old.fill(0);
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async writeBatch(sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]): Promise<void> {
    for (const [key, value] of sets) await this.set(key, value);
    for (const key of deletes) await this.delete(key);
  }

  size(): number {
    this.assertOpen();
    return this.entries.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const value of this.entries.values()) value.fill(0);
    this.entries.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCode.LOCKED, 'store is locked');
  }
}
