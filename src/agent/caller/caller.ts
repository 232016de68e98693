import type { PeerCred } from '../../util/peer-cred.js';

/**
 * Who is on the other end of a connection, as the agent can tell without taking anyone's
 * word for it: the kernel's peer credentials, and what /proc says about that process and
 * the processes that started it. Built once per connection by the transport that accepted
 * it; policy, confirmation questions and audit lines read it.
 */
export interface Caller {
  /** SO_PEERCRED (uid, pid, gid, /proc/PID/exe); null where the platform cannot tell. */
  peer: PeerCred | null;
  /**
   * The peer process first, then its parent, and so on, up to and including the login shell
   * or stopping before the first process of another uid. Empty when the peer is unknown.
   * The Unix transport reads it from /proc when it is first read (caller/identify.ts).
   */
  chain: readonly CallerProcess[];
  /**
   * Set when the peer is the user's own OpenSSH client relaying a connection from another
   * machine (`ssh -R`): whoever is at the far end is not a local program at all.
   */
  forwarded?: { host: string };
}

/** One process of a caller's chain. */
export interface CallerProcess {
  pid: number;
  uid: number;
  /** /proc/PID/exe, when readable. */
  exe?: string;
  /** For an interpreter (node, python, perl, ruby, sh, bash…): the script it runs, resolved to a path. */
  script?: string;
  /** What a policy rule names: the script for an interpreter running one, else the executable. */
  program?: string;
  /** Which Sigilforge client this is, recognised by its resolved script path (never by a name it claims). */
  sigil?: SigilClient;
  /**
   * For an interpreter that runs no script file, where its code comes from: its command line
   * (`node -e`, `python3 -c`, `sh -c`), a module (`python3 -m`), or its stdin (a pipe, or a
   * person typing).
   */
  code?: 'command line' | 'module' | 'stdin';
  /**
   * Runs a program on its parent's behalf and is none itself: `sh -c CMD` (system(3), popen,
   * how git and make start commands) and the git that runs a credential helper
   * (`git credential-NAME`). Policy looks through it to the parent; chains shown leave it out.
   */
  relay?: true;
  /** A login shell (argv[0] starting with "-", or -l/--login): the chain's last process. */
  login?: true;
}

export type SigilClient = 'sigil' | 'sigil-token' | 'git-credential-sigil';

/** The caller of a connection whose peer the platform cannot tell. */
export const UNKNOWN_CALLER: Caller = Object.freeze({ peer: null, chain: Object.freeze([]) });

/**
 * The process a [[policy]] rule judges: Sigilforge's own clients are transparent, so when the
 * peer is one, the program that ran it (looking through relays) is meant; any other peer is
 * judged as itself. Undefined when the chain ends first (a client started by another user's
 * process, or by pid 1).
 */
export function actingProcess(caller: Caller): CallerProcess | undefined {
  const chain = caller.chain;
  if (chain[0]?.sigil === undefined) return chain[0];
  return chain.find((p) => p.sigil === undefined && !p.relay);
}

/** The Sigilforge clients and relays between the peer and the acting process, by name ("git-credential-sigil"). */
export function viaClients(caller: Caller): string[] {
  const via: string[] = [];
  const acting = actingProcess(caller);
  for (const p of caller.chain) {
    if (p === acting) break;
    if (p.sigil !== undefined) via.push(p.sigil);
  }
  return via;
}

/**
 * The chain as the audit log keeps it: each program's path (a Sigilforge client by its name),
 * relays left out. Never an argument: command lines can hold secrets.
 */
export function chainPrograms(caller: Caller): string[] {
  const out: string[] = [];
  for (const p of caller.chain) {
    if (p.relay) continue;
    out.push(p.sigil ?? p.program ?? p.exe ?? `pid ${p.pid}`);
  }
  return out;
}
