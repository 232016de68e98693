import { execFile } from 'node:child_process';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { shownRef, type ValsRef } from '../../protocol/refs.js';
import { terminalText } from '../../util/terminal-text.js';

/**
 * The backends Sigilforge does not read itself (vault, awssecrets, gcpsecrets, …) go to the
 * `vals` CLI (helmfile/vals): `vals get EXPR` prints the value, exactly, and exits 0, or
 * prints why on stderr and exits 1. It runs in the agent — with the agent's PATH and the
 * backend variables (VAULT_ADDR, AWS_PROFILE…) it was started with — so that the one
 * resolution path, its policy and its audit line cover these references too.
 */

/** A backend that answers in no time is unusual, but a network round trip and a login can take a while. */
export const VALS_TIMEOUT_MS = 30_000;
/** A value, not a document: as much as `sigil secret set --stdin` takes. */
const MAX_VALUE = 512 * 1024;
/** Enough for vals' error line and a backend's explanation; a flood is cut. */
const MAX_STDERR_SHOWN = 2000;

export interface ValsCliOptions {
  /** The program to run (default `vals`, found on PATH). */
  program?: string;
  timeoutMs?: number;
}

export function valsGet(ref: ValsRef, opts: ValsCliOptions = {}): Promise<Buffer> {
  const program = opts.program ?? 'vals';
  const shown = shownRef(ref.expr);
  return new Promise((resolve, reject) => {
    // An argv, never a shell: the expression is data, whatever characters it holds.
    execFile(
      program,
      ['get', ref.expr],
      { encoding: 'buffer', maxBuffer: MAX_VALUE, timeout: opts.timeoutMs ?? VALS_TIMEOUT_MS, killSignal: 'SIGKILL', windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        stdout?.fill(0);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
        if (e.code === 'ENOENT') {
          return reject(new SigilError(ErrorCode.NOT_FOUND, `ref+${ref.backend}:// needs the vals CLI, and there is none on the agent's PATH: install vals (github.com/helmfile/vals), or use a backend Sigilforge reads itself (ref+file://, ref+sops://)`));
        }
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new SigilError(ErrorCode.PROVIDER_ERROR, `vals get ${shown}: the value is larger than ${MAX_VALUE / 1024} KiB`));
        if (e.killed || e.signal) {
          const ms = opts.timeoutMs ?? VALS_TIMEOUT_MS;
          return reject(new SigilError(ErrorCode.PROVIDER_ERROR, `vals get ${shown} did not answer within ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`}`));
        }
        // vals prints errors only on stderr (never a value): passed on, cut and made safe to print.
        const why = terminalText(stderr.toString('utf8').trim(), { max: MAX_STDERR_SHOWN, lines: true }) || `exit status ${String(e.code)}`;
        reject(new SigilError(ErrorCode.PROVIDER_ERROR, `vals get ${shown} failed (ref+${ref.backend}://): ${why}`));
      },
    );
  });
}
