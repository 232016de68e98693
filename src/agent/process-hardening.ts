import { koffiLibc } from '../util/koffi-libc.js';

/**
 * Keeps the agent's memory (unlocked vault, tokens, the passphrase while it is used) out of
 * core files and away from same-uid debuggers, as ssh-agent does: RLIMIT_CORE 0 (no core
 * file), then PR_SET_DUMPABLE 0 (no core even if a limit is raised later, no ptrace/gdb/gcore
 * attach by the user's other processes, /proc/PID/{mem,environ,fd,exe,maps} root-only).
 * Node has no API for either, so on Linux we call libc through koffi (util/koffi-libc.ts).
 * Elsewhere nothing is done (documented in sigil-agent(1)).
 *
 * What stays readable for the user: /proc/PID/{cmdline,stat,status,limits}, which is all that
 * `sigil-agent -k`, the vault lease and the tests read about an agent.
 */

// Linux values for every architecture Node ships on (linux/prctl.h, asm-generic/resource.h).
const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
const RLIMIT_CORE = 4;

export interface Hardening {
  /** What could not be done, one phrase each (empty: all of it was). */
  failed: string[];
}

type Prctl = (option: number, ...typedArgs: unknown[]) => number;
type RlimitFn = (resource: number, rlim: Buffer) => number;

interface Libc {
  prctl: Prctl;
  setrlimit: RlimitFn;
  /** sizeof(struct rlimit): two rlim_t, which is an unsigned long on Linux. */
  rlimitSize: number;
}

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return null;
  const k = koffiLibc();
  if (!k) return null;
  try {
    libc = {
      // prctl is variadic in glibc: the extra arguments are passed as (type, value) pairs.
      prctl: k.lib.func('int prctl(int option, ...)') as Prctl,
      setrlimit: k.lib.func('int setrlimit(int resource, const uint8_t *rlim)') as RlimitFn,
      rlimitSize: 2 * k.koffi.sizeof('unsigned long'),
    };
  } catch {
    libc = null;
  }
  return libc;
}

/** No core files and no same-uid ptrace for this process. Call once, early at start. */
export function hardenProcess(): Hardening {
  const fns = load();
  if (!fns) return { failed: process.platform === 'linux' ? ['libc could not be loaded'] : [] };
  const failed: string[] = [];
  // Both limits 0: the process cannot raise its own soft limit again (an unprivileged one
  // cannot raise a hard limit). All-zero bytes read the same in either byte order.
  if (fns.setrlimit(RLIMIT_CORE, Buffer.alloc(fns.rlimitSize)) !== 0) failed.push('RLIMIT_CORE 0');
  if (fns.prctl(PR_SET_DUMPABLE, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) !== 0) failed.push('PR_SET_DUMPABLE 0');
  return { failed };
}

/** This process's dumpable flag, read back (0: not dumpable); null off Linux. */
export function dumpableFlag(): number | null {
  const fns = load();
  return fns ? fns.prctl(PR_GET_DUMPABLE, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) : null;
}
