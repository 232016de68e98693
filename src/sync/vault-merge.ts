// INTERIM (replaced by the merge branch): a per-key three-way merge, later write wins.
export interface VaultEntry { value: Buffer; updated: string }
export type VaultEntries = Map<string, VaultEntry>;
export interface MergeReport { added: string[]; changed: string[]; deleted: string[]; conflicts: string[] }
export function mergeVaults(base: VaultEntries | null, ours: VaultEntries, theirs: VaultEntries, _opts: { historyLimit: number; now: Date }): { merged: VaultEntries; report: MergeReport } {
  const same = (a?: VaultEntry, b?: VaultEntry) => (a === undefined ? b === undefined : b !== undefined && a.updated === b.updated && a.value.equals(b.value));
  const merged: VaultEntries = new Map();
  const report: MergeReport = { added: [], changed: [], deleted: [], conflicts: [] };
  const copy = (e: VaultEntry) => ({ value: Buffer.from(e.value), updated: e.updated });
  for (const k of new Set([...ours.keys(), ...theirs.keys(), ...(base?.keys() ?? [])])) {
    const b = base?.get(k), o = ours.get(k), t = theirs.get(k);
    let pick: VaultEntry | undefined;
    if (same(o, t)) pick = o;
    else if (base && same(o, b)) { pick = t; if (!t) report.deleted.push(k); else if (o) report.changed.push(k); else report.added.push(k); }
    else if (base && same(t, b)) pick = o;
    else if (o && t) { pick = o.updated >= t.updated ? o : t; if (pick === t) report.changed.push(k); report.conflicts.push(k); }
    else pick = o ?? t;
    if (!base && !o && t) report.added.push(k);
    if (pick) merged.set(k, copy(pick));
  }
  return { merged, report };
}
