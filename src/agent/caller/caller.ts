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
  sigil?: 'sigil' | 'sigil-token' | 'git-credential-sigil';
}
