/**
 * The agent's store with SOPS files in front: a secret whose name starts with a file's
 * prefix (`secret://infra/db/password`, prefix `infra/`) is that file's value at the rest of
 * the name (`db/password`); every other key is the primary store's (vault or keyring).
 *
 * - Names under a prefix belong to the file alone: a vault secret of the same name is hidden.
 * - Such names keep no Sigilforge history: the file's own history (git) is theirs, and a
 *   history in the vault would copy the team's secrets out of the file. History keys under a
 *   prefix read as absent and their writes are dropped.
 * - Nor Sigilforge metadata (an expiry, secret-meta.ts): there is no place for it in a file
 *   sops and its other readers understand. Metadata keys under a prefix read as absent, and
 *   writing one is refused (BAD_REQUEST) before anything is written.
 * - The device's age identity (the vault secret `age/identity`) unwraps each file's data
 *   key; a prefix may therefore not cover it (config.ts refuses one).
 * - A listing wider than a prefix (`secret list`, the status count) leaves out a file that
 *   cannot be opened (its error is logged, and answers any use of its names); a listing
 *   inside the prefix answers that error.
 */
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { AGE_IDENTITY_SECRET, HISTORY_PREFIX, isSecretName, META_PREFIX, SECRET_PREFIX, secretKey } from '../../protocol/names.js';
import type { SecretStore } from '../secret-store.js';
import { SopsStore, type SopsFileConfig } from './sops-store.js';
import type { SopsChange } from './sops-file.js';

interface Routed {
  file: SopsStore;
  prefix: string;
}

/** The device's age identity (AGE-SECRET-KEY-1…, the vault secret age/identity), or null when there is none. */
export async function deviceIdentity(store: SecretStore): Promise<string | null> {
  const v = await store.get(secretKey(AGE_IDENTITY_SECRET));
  if (!v) return null;
  const text = v.toString('utf8').trim();
  v.fill(0);
  return text;
}

export function withSopsFiles(primary: SecretStore, files: readonly SopsFileConfig[], log?: (msg: string) => void): SecretStore {
  if (files.length === 0) return primary;
  const identity = () => deviceIdentity(primary);
  const routes: Routed[] = files.map((f) => ({ file: new SopsStore({ file: f, identity, log }), prefix: SECRET_PREFIX + f.prefix }));
  const historyPrefixes = files.map((f) => HISTORY_PREFIX + f.prefix);
  const metaPrefixes = files.map((f) => META_PREFIX + f.prefix);
  const route = (key: string): { file: SopsStore; name: string } | null => {
    const r = routes.find((x) => key.startsWith(x.prefix));
    return r ? { file: r.file, name: key.slice(r.prefix.length) } : null;
  };
  const isMeta = (key: string) => metaPrefixes.some((p) => key.startsWith(p));
  // History and metadata of SOPS names: read as absent, never in the primary store.
  const isHistory = (key: string) => historyPrefixes.some((p) => key.startsWith(p)) || isMeta(key);
  const refuseMeta = (keys: Iterable<string>) => {
    for (const key of keys) {
      if (!isMeta(key)) continue;
      const name = key.slice(META_PREFIX.length);
      throw new SigilError(ErrorCode.BAD_REQUEST, `secret "${name}" is in a SOPS file, which keeps no expiry: set it without --expires-in`);
    }
  };
  const routedKey = (key: string) => route(key) !== null || isHistory(key);

  /** The SOPS part of a batch in one write per file; history of SOPS names dropped. */
  const writeSops = async (sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]) => {
    const byFile = new Map<SopsStore, SopsChange[]>();
    const add = (key: string, value: Buffer | null) => {
      const r = route(key);
      if (!r) return;
      byFile.set(r.file, [...(byFile.get(r.file) ?? []), { name: r.name, value }]);
    };
    for (const [key, value] of sets) add(key, value);
    for (const key of deletes) add(key, null);
    for (const [file, changes] of byFile) {
      // A delete of a name the file does not hold is no change (the vault's delete is the same).
      const names = new Set(await file.names());
      const real = changes.filter((c) => c.value !== null || names.has(c.name));
      if (real.length) await file.write(real);
    }
  };

  return {
    name: primary.name,
    // OAuth tokens never route to a SOPS file: the device part is the primary's.
    get device() {
      return primary.device;
    },
    get: (key) => {
      const r = route(key);
      if (r) return r.file.get(r.name);
      return isHistory(key) ? Promise.resolve(null) : primary.get(key);
    },
    ...(primary.peek
      ? {
          // Only account credentials are peeked (the hot path), and no prefix covers them.
          peek: (key: string) => {
            if (routedKey(key)) throw new SigilError(ErrorCode.INTERNAL, `${key} is in a SOPS file: read it with get`);
            return primary.peek!(key);
          },
        }
      : {}),
    set: async (key, value) => {
      refuseMeta([key]);
      const r = route(key);
      if (r) return r.file.write([{ name: r.name, value }]);
      if (!isHistory(key)) await primary.set(key, value);
    },
    delete: async (key) => {
      const r = route(key);
      if (r) return r.file.delete(r.name);
      return isHistory(key) ? false : primary.delete(key);
    },
    ...(primary.writeBatch
      ? {
          writeBatch: async (sets: ReadonlyArray<readonly [string, Buffer]>, deletes: readonly string[]) => {
            refuseMeta(sets.map(([k]) => k));
            await writeSops(sets, deletes);
            const own = sets.filter(([k]) => !routedKey(k));
            const ownDeletes = deletes.filter((k) => !routedKey(k));
            if (own.length + ownDeletes.length) await primary.writeBatch!(own, ownDeletes);
          },
        }
      : {}),
    list: async (prefix) => {
      if (historyPrefixes.some((p) => prefix.startsWith(p)) || metaPrefixes.some((p) => prefix.startsWith(p))) return [];
      const inside = routes.find((r) => prefix.startsWith(r.prefix));
      const keys = inside ? [] : (await primary.list(prefix)).filter((k) => !routedKey(k));
      for (const r of routes) {
        if (r !== inside && !r.prefix.startsWith(prefix)) continue;
        let names: string[];
        try {
          names = await r.file.names();
        } catch (err) {
          if (r === inside) throw err;
          continue; // logged by the store; any use of its names answers the error
        }
        // Keys with characters a name cannot hold (spaces, ":") are read by sops only.
        keys.push(...names.map((n) => r.prefix + n).filter((k) => k.startsWith(prefix) && isSecretName(k.slice(SECRET_PREFIX.length))));
      }
      return keys.sort();
    },
    size: () => primary.size(),
    close: async () => {
      await Promise.all(routes.map((r) => r.file.close()));
      await primary.close();
    },
  };
}

