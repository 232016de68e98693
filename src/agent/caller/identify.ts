import { realpathSync } from 'node:fs';
import { readCmdline, readLink, readProc } from './proc-files.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerCred } from '../../util/peer-cred.js';
import { UNKNOWN_CALLER, type Caller, type CallerProcess, type SigilClient } from './caller.js';
import { interpreterOf, isLoginShell, scriptArg } from './script-arg.js';

/**
 * Who a connection's peer is, from /proc, once per connection: the peer process and its
 * parents (PPid in /proc/PID/status), each with its executable and, for an interpreter, the
 * script it runs, resolved against the process's own working directory (/proc/PID/cwd) to
 * an absolute path with symlinks resolved. The chain ends with a login shell, or before the
 * first process of another uid (real or effective: sudo, sshd, cron) or pid 1.
 *
 * Processes come and go while this reads: a file that cannot be read is left out, a process
 * that is gone ends the chain, and nothing here throws. A few small reads per process, for
 * a handful of processes, once per connection (measured in npm run bench, section 1).
 */

/** Far deeper than a terminal's chain (~5–8): a bound on the work for a pathological one. */
export const MAX_CHAIN = 16;

export interface IdentifyOptions {
  /**
   * The directory holding this installation's sigil, sigil-token and git-credential-sigil
   * (dist/bin beside the agent's own code); tests point it elsewhere.
   */
  binDir?: string;
}

/**
 * Sigilforge's clients by the file each runs, under this installation's dist/bin: a script
 * node runs, or (sigil-token in C, src/native/token-bin.ts) the executable itself.
 */
const CLIENT_FILES: [string, SigilClient][] = [
  ['sigil.js', 'sigil'],
  ['sigil-token.cjs', 'sigil-token'],
  ['sigil-token', 'sigil-token'],
  [`../native/sigil-token-${process.platform}-${process.arch}`, 'sigil-token'],
  ['git-credential-sigil.js', 'git-credential-sigil'],
];

const clientsByDir = new Map<string, ReadonlyMap<string, SigilClient>>();

/** The clients' real paths (an npm install links /usr/local/bin/sigil-token to dist/bin/sigil-token.cjs). */
function installedClients(binDir: string): ReadonlyMap<string, SigilClient> {
  let clients = clientsByDir.get(binDir);
  if (!clients) {
    const map = new Map<string, SigilClient>();
    for (const [file, name] of CLIENT_FILES) map.set(realOrAsIs(join(binDir, file)), name);
    clientsByDir.set(binDir, (clients = map));
  }
  return clients;
}

/** dist/bin, from dist/agent/caller (where the agent's code runs from). */
export function defaultBinDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin');
}

/**
 * The caller of a connection, its chain read when first asked for: by the first request that
 * is audited or policed, not at accept(). A burst of connections is then accepted as fast as
 * before (the listen backlog does not overflow while /proc is read), and one that only says
 * hello or asks for status costs no /proc reads. The peer is still the one the kernel named
 * at connect(); a process that is gone by then leaves the chain short.
 */
export function lazyCaller(peer: PeerCred | null, opts: IdentifyOptions = {}): Caller {
  if (!peer) return UNKNOWN_CALLER;
  let chain: readonly CallerProcess[] | undefined;
  return {
    peer,
    get chain() {
      return (chain ??= identifyCaller(peer, opts).chain);
    },
  };
}

export function identifyCaller(peer: PeerCred | null, opts: IdentifyOptions = {}): Caller {
  if (!peer) return UNKNOWN_CALLER;
  if (process.platform !== 'linux') return { peer, chain: [] };
  const clients = installedClients(opts.binDir ?? defaultBinDir());
  const chain: CallerProcess[] = [];
  let pid = peer.pid;
  for (let n = 0; n < MAX_CHAIN && pid > 1; n++) {
    const status = readStatus(pid);
    // The peer's uid is the kernel's word (SO_PEERCRED); its parents must be of that uid too.
    if (!status || status.uid !== peer.uid || status.euid !== peer.uid) break;
    const p = describe(pid, peer.uid, n === 0 ? peer.exe : undefined, clients);
    chain.push(p);
    if (p.login) break;
    pid = status.ppid;
  }
  return { peer, chain };
}

/** One process: its executable, and for an interpreter, what it runs. */
function describe(pid: number, uid: number, knownExe: string | undefined, clients: ReadonlyMap<string, SigilClient>): CallerProcess {
  const p: CallerProcess = { pid, uid };
  const exe = knownExe ?? readLink(`/proc/${pid}/exe`);
  if (exe === undefined) return p; // gone, or a zombie: what we have stands
  p.exe = exe;
  p.program = exe;
  const kind = interpreterOf(exe);
  if (kind === undefined) {
    // The native sigil-token: /proc/PID/exe is already the real path the kernel ran.
    const client = clients.get(exe);
    if (client) p.sigil = client;
    // git starts a helper named in credential.helper as `git credential-NAME get` (a second
    // git, from its exec path) through `sh -c`: that git only relays to the helper for the
    // git that asked.
    if (exe.endsWith('/git') && readCmdline(pid)[1]?.startsWith('credential-')) p.relay = true;
    return p;
  }
  const argv = readCmdline(pid);
  if (argv.length === 0) return p;
  if (kind === 'shell' && isLoginShell(argv)) p.login = true;
  const what = scriptArg(kind, argv);
  if (what.script !== undefined) {
    const script = resolveScript(pid, what.script, kind === 'node');
    if (script === undefined) {
      // A script we cannot place (its working directory is gone): not the interpreter's name.
      delete p.program;
      return p;
    }
    if (script.startsWith('/proc/')) {
      // A pipe or a terminal (`bash <(curl …)`): no file anyone could name in a rule.
      p.code = 'stdin';
      return p;
    }
    p.script = script;
    p.program = script;
    const client = kind === 'node' ? clients.get(script) : undefined;
    if (client) p.sigil = client;
  } else if (what.code) {
    p.code = what.code;
    // A login shell ends the chain: `bash -lc CMD` is the far end, not a relay to look through.
    if (what.relay && !p.login) p.relay = true;
  }
  return p;
}

/**
 * Paths that name a process's own files (`bash /dev/fd/3` for `bash <(…)`, `/dev/stdin`,
 * `/proc/self/…`) as that process sees them: resolved here they would name the agent's own
 * (its fd 3 is its audit log).
 */
function callersOwn(pid: number, path: string): string {
  const std = ['/dev/stdin', '/dev/stdout', '/dev/stderr'].indexOf(path);
  if (std >= 0) return `/proc/${pid}/fd/${std}`;
  if (path.startsWith('/dev/fd/')) return `/proc/${pid}/fd/${path.slice('/dev/fd/'.length)}`;
  const self = /^\/proc\/(?:self|thread-self)(?=\/|$)/.exec(path);
  return self ? `/proc/${pid}${path.slice(self[0].length)}` : path;
}

/** The script's absolute real path; the path as resolved when it cannot be followed (deleted since). */
function resolveScript(pid: number, script: string, node: boolean): string | undefined {
  let abs = callersOwn(pid, script);
  if (!script.startsWith('/')) {
    const cwd = readLink(`/proc/${pid}/cwd`);
    if (cwd === undefined) return undefined;
    abs = resolve(cwd, script);
  }
  const real = realPath(abs);
  if (real !== undefined) return real;
  // `node dist/bin/sigil` finds dist/bin/sigil.js, as require() would.
  if (node) for (const ext of ['.js', '.cjs', '.mjs']) {
    const withExt = realPath(abs + ext);
    if (withExt !== undefined) return withExt;
  }
  return abs;
}

interface Status {
  ppid: number;
  uid: number;
  euid: number;
}

function readStatus(pid: number): Status | null {
  // PPid and Uid come in the first ten lines, well within 1 KiB (Name is at most 64 bytes).
  const text = readProc(`/proc/${pid}/status`, 1024)?.toString('latin1');
  if (!text) return null;
  const ppid = /\nPPid:\t(\d+)/.exec(text);
  const uid = /\nUid:\t(\d+)\t(\d+)/.exec(text);
  if (!ppid || !uid) return null;
  return { ppid: Number(ppid[1]), uid: Number(uid[1]), euid: Number(uid[2]) };
}

function realPath(path: string): string | undefined {
  try {
    // realpath(3): one call, where the JavaScript realpathSync lstats every component.
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

function realOrAsIs(path: string): string {
  return realPath(path) ?? path;
}
