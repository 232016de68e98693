import { appendProvider } from '../../config/provider-tables.js';
import { resolveProvider } from '../../oauth/provider-config.js';
import type { ProviderRegistry } from '../../oauth/provider-registry.js';
import { isErrorCode } from '../../protocol/codes.js';
import { PROVIDER_MIRROR_PREFIX } from '../../protocol/names.js';
import type { Entry, VaultStore } from '../../stores/vault-store.js';

/**
 * Provider settings travel with a synced vault: config.toml stays the person's own file (it
 * also holds this device's [agent] and [storage]), so each [providers.NAME] table is mirrored
 * into the vault as `sigilforge/_providers/NAME` before a sync, and after it a provider this
 * device lacks is appended to its config.toml (as add_provider appends) and usable at once.
 *
 * Providers are added this way, never changed or removed: a table this device has is its own
 * (edited by hand, perhaps on purpose), and a provider removed on one device still exists in
 * the others' files. The mirror is the union of what the devices have.
 */
export class ProviderMirror {
  constructor(
    private readonly providers: ProviderRegistry,
    private readonly configPath: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Adds to the vault's mirror the tables it lacks or holds differently, in one write. */
  async update(vault: VaultStore): Promise<void> {
    const current = vault.snapshot();
    const sets: [string, Buffer][] = [];
    for (const name of this.providers.names()) {
      const value = Buffer.from(canonicalJson(this.providers.table(name)));
      if (!current.get(PROVIDER_MIRROR_PREFIX + name)?.value.equals(value)) sets.push([PROVIDER_MIRROR_PREFIX + name, value]);
    }
    for (const e of current.values()) e.value.fill(0);
    if (sets.length > 0) await vault.writeBatch(sets, []);
  }

  /** After a merge: the providers the mirror has and config.toml lacks are appended to it. Returns their names. */
  async apply(merged: ReadonlyMap<string, Entry>): Promise<string[]> {
    const added: string[] = [];
    for (const [key, entry] of merged) {
      if (!key.startsWith(PROVIDER_MIRROR_PREFIX)) continue;
      const name = key.slice(PROVIDER_MIRROR_PREFIX.length);
      if (this.providers.has(name)) continue;
      try {
        const table = JSON.parse(entry.value.toString('utf8')) as Record<string, unknown>;
        resolveProvider(name, { [name]: table }); // the same checks as config.toml's own tables
        await appendProvider(this.configPath, name, table);
        this.providers.add(name, table);
        added.push(name);
      } catch (err) {
        // One bad table (a hostile or broken device) must not stop the sync: said, and skipped.
        const code = (err as { code?: unknown }).code;
        this.log(`provider ${name} from another device was not added to ${this.configPath}: ${isErrorCode(code) ? (err as Error).message : 'not a provider table'}`);
      }
    }
    return added;
  }
}

/** JSON with sorted keys: the same table mirrors to the same bytes on every device. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
