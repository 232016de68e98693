import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nativeTokenFile } from '../../src/native/token-bin.js';
import { BIN, ROOT, type ExecResult, type Sandbox } from './sandbox.js';

/**
 * The programs that are sigil-token, which must behave byte for byte the same: the C one
 * (dist/native/sigil-token-PLATFORM-ARCH, the bin wherever it runs) and the Node shim
 * (dist/bin/sigil-token.cjs) on each of its transports.
 */
export interface TokenProgram {
  name: string;
  /** Runs it in the sandbox with `args` (and extra environment). */
  run(sb: Sandbox, args: string[], opts?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** The command line that runs it (for setpriv, python, a shell). */
  argv: string[];
  env: Record<string, string>;
}

export const NATIVE_TOKEN = nativeTokenFile(join(ROOT, 'dist'));

const probe = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'scripts/build-native.mjs'), '--probe'], { cwd: ROOT, encoding: 'utf8' }).stdout) as {
  cc: string | null;
};
/** A C compiler is here: the build must have made the C sigil-token (else a broken build would only skip tests). */
export const NATIVE_TOKEN_BUILDABLE = Boolean(probe.cc);

function program(name: string, argv: string[], env: Record<string, string> = {}): TokenProgram {
  return {
    name,
    argv,
    env,
    run: (sb, args, opts = {}) => sb.exec(argv[0]!, [...argv.slice(1), ...args], { ...opts, env: { ...env, ...opts.env } }),
  };
}

export const C_TOKEN = program('sigil-token in C', [NATIVE_TOKEN]);
export const NODE_TOKEN = program('the Node shim, native client', [process.execPath, BIN.token]);
export const PORTABLE_TOKEN = program('the Node shim, portable client', [process.execPath, BIN.token], { SIGIL_TOKEN_TRANSPORT: 'portable' });

/** Every sigil-token there is in this build (the C one only when it was built). */
export const TOKEN_PROGRAMS: TokenProgram[] = [...(existsSync(NATIVE_TOKEN) ? [C_TOKEN] : []), NODE_TOKEN, PORTABLE_TOKEN];
