import { createRequire } from 'node:module';

/**
 * libc through koffi (FFI with prebuilt binaries, no install script), loaded once per
 * process, for the few calls Node has no API for: getsockopt(SO_PEERCRED) where the native
 * addon was not built, prctl and setrlimit for the agent's hardening. Linux only; null
 * elsewhere or when koffi cannot load.
 */
export interface KoffiLibc {
  koffi: typeof import('koffi');
  lib: ReturnType<typeof import('koffi').load>;
}

let loaded: KoffiLibc | null | undefined;

export function koffiLibc(): KoffiLibc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return null;
  try {
    // The sigil-token bundle is CommonJS (it has a require, and no import.meta); the rest is ESM.
    const load = typeof require === 'function' ? require : createRequire(import.meta.url);
    const koffi = load('koffi') as typeof import('koffi');
    loaded = { koffi, lib: koffi.load('libc.so.6') };
  } catch {
    loaded = null;
  }
  return loaded;
}
