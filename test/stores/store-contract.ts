/**
 * The SecretStore contract (src/stores/secret-store.ts) as a reusable suite: every
 * backend runs it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SigilError } from '../../src/protocol/errors.js';
import type { SecretStore } from '../../src/stores/secret-store.js';

export interface StoreHandle {
  store: SecretStore;
  /** For durable stores: close and open again, yielding what a new process would see. */
  reopen?: () => Promise<SecretStore>;
  cleanup?: () => Promise<void>;
}

export interface ContractOptions {
  /** fast-check runs for the model-based test; keep it low for stores that write files. */
  numRuns?: number;
}

const K = (name: string) => `sigilforge/_secret/${name}`;

async function expectLocked(p: Promise<unknown> | (() => unknown)): Promise<void> {
  const promise = typeof p === 'function' ? Promise.resolve().then(p) : p;
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SigilError);
  expect((err as SigilError).code).toBe('LOCKED');
}

export function describeSecretStoreContract(
  label: string,
  makeStore: () => Promise<StoreHandle>,
  opts: ContractOptions = {},
): void {
  describe(`SecretStore contract: ${label}`, () => {
    let handles: StoreHandle[] = [];
    const open = async () => {
      const h = await makeStore();
      handles.push(h);
      return h;
    };
    afterEach(async () => {
      for (const h of handles) {
        await h.store.close().catch(() => undefined);
        await h.cleanup?.();
      }
      handles = [];
    });

    it('answers null for an absent key', async () => {
      const { store } = await open();
      expect(await store.get(K('absent'))).toBeNull();
      expect(store.size()).toBe(0);
    });

    it('stores, overwrites and deletes', async () => {
      const { store } = await open();
      await store.set(K('a'), Buffer.from('one'));
      expect((await store.get(K('a')))?.toString()).toBe('one');
      await store.set(K('a'), Buffer.from('two'));
      expect((await store.get(K('a')))?.toString()).toBe('two');
      expect(store.size()).toBe(1);
      expect(await store.delete(K('a'))).toBe(true);
      expect(await store.delete(K('a'))).toBe(false);
      expect(await store.get(K('a'))).toBeNull();
      expect(store.size()).toBe(0);
    });

    it('applies a write batch whole, durably (where the store offers one)', async () => {
      const h = await open();
      if (!h.store.writeBatch) return; // optional in the contract: callers order single writes instead
      await h.store.set(K('old'), Buffer.from('gone soon'));
      const mine = Buffer.from('second');
      await h.store.writeBatch(
        [
          [K('one'), Buffer.from('first')],
          [K('two'), mine],
        ],
        [K('old'), K('never-there')],
      );
      mine.fill(0); // the store copied it
      const check = async (store: SecretStore) => {
        expect((await store.get(K('one')))?.toString()).toBe('first');
        expect((await store.get(K('two')))?.toString()).toBe('second');
        expect(await store.get(K('old'))).toBeNull();
        expect(await store.list('sigilforge/_secret/')).toEqual([K('one'), K('two')]);
      };
      await check(h.store);
      if (h.reopen) await check((h.store = await h.reopen()));
    });

    it('keeps binary, empty and non-ASCII values byte for byte', async () => {
      const { store } = await open();
      const values: Record<string, Buffer> = {
        binary: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        empty: Buffer.alloc(0),
        unicode: Buffer.from('pässwörd 🔑 \u0000\n"\\'),
        invalidUtf8: Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        bom: Buffer.from([0xef, 0xbb, 0xbf, 0x61]),
      };
      for (const [k, v] of Object.entries(values)) await store.set(K(k), v);
      for (const [k, v] of Object.entries(values)) expect(await store.get(K(k))).toEqual(v);
    });

    it('copies values in and out', async () => {
      const { store } = await open();
      const input = Buffer.from('secret');
      await store.set(K('c'), input);
      input.fill(0);
      const out = await store.get(K('c'));
      expect(out?.toString()).toBe('secret');
      out?.fill(0);
      expect((await store.get(K('c')))?.toString()).toBe('secret');
    });

    it('lists by prefix, sorted', async () => {
      const { store } = await open();
      for (const k of ['sigilforge/b/x/api_key', 'sigilforge/a/y/refresh_token', 'sigilforge/a/x/refresh_token', 'other']) {
        await store.set(k, Buffer.from('v'));
      }
      expect(await store.list('sigilforge/a/')).toEqual(['sigilforge/a/x/refresh_token', 'sigilforge/a/y/refresh_token']);
      expect(await store.list('')).toEqual([
        'other',
        'sigilforge/a/x/refresh_token',
        'sigilforge/a/y/refresh_token',
        'sigilforge/b/x/api_key',
      ]);
      expect(await store.list('nothing/')).toEqual([]);
    });

    it('treats keys named like Object.prototype members as plain keys', async () => {
      const { store } = await open();
      for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) await store.set(k, Buffer.from(k));
      for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        expect((await store.get(k))?.toString()).toBe(k);
      }
      expect(await store.get('valueOf')).toBeNull();
      expect(store.size()).toBe(4);
    });

    it('throws LOCKED after close, and close is idempotent', async () => {
      const { store } = await open();
      await store.set(K('x'), Buffer.from('v'));
      await store.close();
      await store.close();
      await expectLocked(store.get(K('x')));
      await expectLocked(store.set(K('x'), Buffer.from('w')));
      await expectLocked(store.delete(K('x')));
      await expectLocked(store.list(''));
      await expectLocked(() => store.size());
    });

    it('behaves like a Map under random operation sequences', async () => {
      const key = fc.constantFrom(K('a'), K('b'), 'sigilforge/s/acct/refresh_token', '__proto__');
      const op = fc.oneof(
        fc.record({ kind: fc.constant('set' as const), key, value: fc.uint8Array({ maxLength: 24 }) }),
        fc.record({ kind: fc.constant('delete' as const), key }),
        fc.record({ kind: fc.constant('get' as const), key }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
          const h = await open();
          const model = new Map<string, Buffer>();
          for (const o of ops) {
            if (o.kind === 'set') {
              await h.store.set(o.key, Buffer.from(o.value));
              model.set(o.key, Buffer.from(o.value));
            } else if (o.kind === 'delete') {
              expect(await h.store.delete(o.key)).toBe(model.delete(o.key));
            } else {
              expect(await h.store.get(o.key)).toEqual(model.get(o.key) ?? null);
            }
          }
          expect(h.store.size()).toBe(model.size);
          expect(await h.store.list('')).toEqual([...model.keys()].sort());
          if (h.reopen) {
            const again = await h.reopen();
            for (const [k, v] of model) expect(await again.get(k)).toEqual(v);
            expect(again.size()).toBe(model.size);
            await again.close();
          }
        }),
        { numRuns: opts.numRuns ?? 50 },
      );
    }, 60_000);
  });
}
