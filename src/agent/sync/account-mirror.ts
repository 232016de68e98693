import { ACCOUNT_MIRROR_PREFIX, credentialKey } from '../../protocol/names.js';
import type { Entry, VaultStore } from '../../stores/vault-store.js';
import type { AccountMeta, AccountRegistry } from '../credentials/account-registry.js';

/**
 * Account metadata travels with a synced vault: accounts.toml itself stays per device (it holds
 * this device's token expiry, last use, sign-in state), so before each sync every account's
 * shared part is mirrored into the vault as `sigilforge/_account/SERVICE/ACCOUNT` — encrypted,
 * merged with the rest — and after it the merged mirror is brought back into accounts.toml.
 *
 * Shared: the kind and creation time; for a static token also its type and expiry (the token
 * itself is a vault entry and syncs). An OAuth account's token state is this device's sign-in
 * and stays here: one that arrives is marked `sign_in_here` until it is signed in on this device.
 */
interface Shared {
  kind: AccountMeta['kind'];
  created: string;
  token_type?: string;
  expires_at?: number;
  issued_at?: number;
}

export class AccountMirror {
  constructor(
    private readonly registry: AccountRegistry,
    /** Revokes this device's grant of an account before it goes (best effort, as remove_account does). */
    private readonly revoke: (service: string, account: string) => Promise<unknown>,
  ) {}

  /** Brings the vault's mirror up to date with accounts.toml, in one write when anything differs. */
  async update(vault: VaultStore): Promise<void> {
    const current = vault.snapshot();
    const sets: [string, Buffer][] = [];
    const wanted = new Set<string>();
    for (const meta of this.registry.list()) {
      const key = mirrorKey(meta.service, meta.account);
      wanted.add(key);
      const value = Buffer.from(JSON.stringify(sharedOf(meta)));
      if (!current.get(key)?.value.equals(value)) sets.push([key, value]);
    }
    const deletes = [...current.keys()].filter((k) => k.startsWith(ACCOUNT_MIRROR_PREFIX) && !wanted.has(k));
    for (const e of current.values()) e.value.fill(0);
    if (sets.length + deletes.length > 0) await vault.writeBatch(sets, deletes);
  }

  /**
   * After a merge: accounts the merged mirror has and accounts.toml lacks are added (OAuth ones
   * to be signed in here), and accounts whose mirror entry the merge removed (removed on another
   * device) are removed here with this device's tokens. Returns their names.
   */
  async apply(merged: ReadonlyMap<string, Entry>, before: ReadonlyMap<string, Entry>, vault: VaultStore): Promise<{ added: string[]; removed: string[] }> {
    const added: string[] = [];
    const removed: string[] = [];
    for (const [key, entry] of merged) {
      const named = accountOf(key);
      const shared = named && parseShared(entry.value);
      if (!named || !shared) continue;
      const { id, service, account } = named;
      const here = this.registry.get(service, account);
      if (!here) {
        await this.registry.put({ service, account, ...shared, ...(shared.kind === 'oauth' ? { sign_in_here: true } : {}) });
        added.push(id);
      } else if (shared.kind === 'static' && here.kind === 'static' && (here.token_type !== shared.token_type || here.expires_at !== shared.expires_at)) {
        await this.registry.update(service, account, { token_type: shared.token_type, expires_at: shared.expires_at, issued_at: shared.issued_at });
      }
    }
    for (const key of before.keys()) {
      const named = accountOf(key);
      if (!named || merged.has(key)) continue;
      const { id, service, account } = named;
      const here = this.registry.get(service, account);
      if (!here) continue;
      // Removed on another device: this device's own sign-in is revoked too, not left alive at the provider.
      if (here.kind === 'oauth') await this.revoke(service, account).catch(() => undefined);
      const device = vault.device;
      if (device) {
        const mine = ['access_token', 'refresh_token', 'id_token'].map((t) => credentialKey(service, account, t));
        await device.writeBatch([], mine);
      }
      await this.registry.remove(service, account);
      removed.push(id);
    }
    return { added, removed };
  }
}

/** The account a mirror key names ("service/account" and its parts), or null for any other key. */
function accountOf(key: string): { id: string; service: string; account: string } | null {
  if (!key.startsWith(ACCOUNT_MIRROR_PREFIX)) return null;
  const id = key.slice(ACCOUNT_MIRROR_PREFIX.length);
  const slash = id.indexOf('/');
  return slash > 0 ? { id, service: id.slice(0, slash), account: id.slice(slash + 1) } : null;
}

function mirrorKey(service: string, account: string): string {
  return `${ACCOUNT_MIRROR_PREFIX}${service}/${account}`;
}

function sharedOf(meta: AccountMeta): Shared {
  const shared: Shared = { kind: meta.kind, created: meta.created };
  if (meta.kind === 'static') {
    if (meta.token_type !== undefined) shared.token_type = meta.token_type;
    if (meta.expires_at !== undefined) shared.expires_at = meta.expires_at;
    if (meta.issued_at !== undefined) shared.issued_at = meta.issued_at;
  }
  return shared;
}

function parseShared(value: Buffer): Shared | null {
  try {
    const doc = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
    if ((doc.kind !== 'oauth' && doc.kind !== 'static') || typeof doc.created !== 'string') return null;
    const shared: Shared = { kind: doc.kind, created: doc.created };
    if (typeof doc.token_type === 'string') shared.token_type = doc.token_type;
    if (typeof doc.expires_at === 'number') shared.expires_at = doc.expires_at;
    if (typeof doc.issued_at === 'number') shared.issued_at = doc.issued_at;
    return shared;
  } catch {
    return null;
  }
}
