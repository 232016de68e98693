/**
 * One SOPS file as a store of named values (`db/password` is `db: {password: …}`), held
 * while the agent is unlocked.
 *
 * - Opened at first use, not at unlock: a file that cannot be opened (not encrypted to this
 *   device, a bad MAC, missing) must not keep the vault locked; its error answers each use.
 * - Watched: the directory (sops and editors replace the file, which a watch on the file
 *   itself would lose) marks it stale, and each use compares the file's inode, size and
 *   mtime with what was read — so an edit by `sops` is picked up even if the event is missed.
 *   A file that changed is re-read whole: data key, every value, MAC.
 * - Written back one change at a time from the file as it is on disk, atomically (temp file,
 *   fsync, rename: a crash leaves the old or the new file whole), keeping its mode.
 * - close() wipes every decrypted value and the data key, and stops the watch.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { sweepStaleTemps, writeFileAtomic, type FileOps } from '../atomic-file.js';
import type { SopsFormat } from './sops-document.js';
import { openSops, readSops, unwrapDataKey, wipe, writeSops, type OpenedSops, type SopsChange } from './sops-file.js';

/** One `[[storage.sops]]` entry of config.toml. */
export interface SopsFileConfig {
  /** Absolute path of the encrypted file. */
  path: string;
  /** The secret-name prefix its values answer under, ending in "/" (`infra/`). */
  prefix: string;
  format: SopsFormat;
}

export interface SopsStoreOptions {
  file: SopsFileConfig;
  /** The device's age identity (AGE-SECRET-KEY-1…), asked for when a data key is needed; null if none. */
  identity: () => Promise<string | null>;
  now?: () => Date;
  fileOps?: FileOps;
  log?: (msg: string) => void;
}

export class SopsStore {
  private opened: OpenedSops | null = null;
  /** inode:size:mtime of the file `opened` was read from (or written as). */
  private stamp: string | null = null;
  private stale = false;
  private loading: Promise<OpenedSops> | null = null;
  private watcher: FSWatcher | null = null;
  private closed = false;
  /** Writes run one after another, each from the file the one before it left. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SopsStoreOptions) {}

  get where(): string {
    return this.opts.file.path;
  }

  /** The value of `name` (the caller's copy), or null when the file has none. */
  async get(name: string): Promise<Buffer | null> {
    const entry = (await this.read()).entries.get(name);
    return entry ? Buffer.from(entry.plain.bytes) : null;
  }

  /** Every name with a value, in the file's order. */
  async names(): Promise<string[]> {
    return [...(await this.read()).entries.keys()];
  }

  /** Makes `changes` (values the caller owns) in one write of the file; resolves once it is durable. */
  write(changes: readonly SopsChange[]): Promise<void> {
    const run = this.tail.catch(() => undefined).then(async () => {
      const file = await this.current();
      const next = writeSops(file, changes, (this.opts.now ?? (() => new Date()))(), this.where);
      try {
        const mode = (await stat(this.where)).mode & 0o777;
        await writeFileAtomic(this.where, Buffer.from(next.text, 'utf8'), mode, { ops: this.opts.fileOps });
      } catch (err) {
        wipe(next.entries);
        throw new SigilError(ErrorCode.INTERNAL, `could not write ${this.where}: ${reason(err)}`, { cause: err });
      }
      wipe(file.entries);
      this.opened = next;
      this.stamp = await stampOf(this.where).catch(() => null);
    });
    this.tail = run;
    return run;
  }

  async delete(name: string): Promise<boolean> {
    if (!(await this.read()).entries.has(name)) return false;
    await this.write([{ name, value: null }]);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    await this.tail.catch(() => undefined);
    await this.loading?.catch(() => undefined);
    this.drop();
  }

  /** After the writes accepted so far: a read never sees a write's state half made. */
  private async read(): Promise<OpenedSops> {
    await this.tail.catch(() => undefined);
    return this.current();
  }

  /** The file as it is now: what was read, unless it changed since. */
  private async current(): Promise<OpenedSops> {
    if (this.closed) throw new SigilError(ErrorCode.LOCKED, 'the agent is locked');
    if (this.loading) return this.loading;
    const stamp = await stampOf(this.where);
    if (this.opened && !this.stale && stamp === this.stamp) return this.opened;
    this.loading ??= this.load(stamp).finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(stamp: string): Promise<OpenedSops> {
    this.stale = false; // a change seen from here on makes the next use read again
    try {
      await sweepStaleTemps(this.where); // left by a write that was killed mid-way
      const text = await readFile(this.where, 'utf8').catch((err: unknown) => {
        throw fileError(this.where, err);
      });
      if (this.opened && text === this.opened.text) {
        this.stamp = stamp;
        return this.opened;
      }
      const identity = await this.opts.identity();
      if (!identity) {
        throw noIdentity(this.where);
      }
      const doc = readSops(text, this.opts.file.format, this.where);
      const key = await unwrapDataKey(doc, identity);
      let next: OpenedSops;
      try {
        next = openSops(text, this.opts.file.format, key, this.where, doc);
      } catch (err) {
        key.fill(0);
        throw err;
      }
      this.drop();
      this.opened = next;
      this.stamp = stamp;
      this.watchFile();
      return next;
    } catch (err) {
      // Nothing is served from a file that no longer opens (as a restart would find it). Not
      // remembered: the next use tries again (the identity may have been adopted meanwhile).
      this.drop();
      this.opts.log?.(`${this.where}: ${reason(err)}`);
      throw err;
    }
  }

  private watchFile(): void {
    if (this.watcher || this.closed) return;
    const name = basename(this.where);
    try {
      this.watcher = watch(dirname(this.where), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.stale = true;
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null; // the stamp check still sees every change
      });
    } catch {
      this.watcher = null;
    }
  }

  private drop(): void {
    if (!this.opened) return;
    wipe(this.opened.entries);
    this.opened.dataKey.fill(0);
    this.opened = null;
    this.stamp = null;
  }
}

/** No device identity to unwrap the data key of `where` with: how to adopt or make one. */
export function noIdentity(where: string): SigilError {
  return new SigilError(ErrorCode.NOT_FOUND, `no age identity to open ${where}: adopt the key it is encrypted to with: sigil age-key --import < keys.txt (or create one: sigil age-key --generate)`);
}

async function stampOf(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (err) {
    throw fileError(path, err);
  }
}

function fileError(path: string, err: unknown): SigilError {
  if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
    return new SigilError(ErrorCode.NOT_FOUND, `no SOPS file at ${path} (config.toml [[storage.sops]]): create it with sops first`);
  }
  return new SigilError(ErrorCode.INTERNAL, `could not read ${path}: ${reason(err)}`, { cause: err });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
