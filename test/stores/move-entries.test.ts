import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory-store.js';
import { moveEntries } from '../../src/stores/move-entries.js';

const K = (n: string) => `sigilforge/_secret/${n}`;
const text = async (s: MemoryStore, k: string) => (await s.get(k))?.toString() ?? null;

describe('moveEntries (switching the primary store)', () => {
  it('copies what the target lacks, keeps what it has, and empties the source', async () => {
    const from = new MemoryStore();
    const to = new MemoryStore();
    await from.set(K('a'), Buffer.from('vault a'));
    await from.set(K('b'), Buffer.from('vault b'));
    await from.set('sigilforge/github/work/access_token', Buffer.from('ghp_x'));
    await to.set(K('b'), Buffer.from('keyring b (newer)'));
    expect(await moveEntries(from, to)).toBe(2);
    expect(await text(to, K('a'))).toBe('vault a');
    expect(await text(to, K('b'))).toBe('keyring b (newer)');
    expect(await text(to, 'sigilforge/github/work/access_token')).toBe('ghp_x');
    expect(from.size()).toBe(0);
    expect(await moveEntries(from, to)).toBe(0); // nothing left to do
  });

  it('loses nothing when the target fails half-way: the source keeps everything, a second move finishes', async () => {
    const from = new MemoryStore();
    const to = new MemoryStore();
    for (const n of ['a', 'b', 'c']) await from.set(K(n), Buffer.from(`value ${n}`));
    const realSet = to.set.bind(to);
    let calls = 0;
    to.set = async (key, value) => {
      if (++calls === 2) throw new Error('keyring went away');
      return realSet(key, value);
    };
    await expect(moveEntries(from, to)).rejects.toThrow('keyring went away');
    expect(await from.list('')).toEqual([K('a'), K('b'), K('c')]);
    to.set = realSet;
    expect(await moveEntries(from, to)).toBe(2);
    for (const n of ['a', 'b', 'c']) expect(await text(to, K(n))).toBe(`value ${n}`);
    expect(from.size()).toBe(0);
  });
});
