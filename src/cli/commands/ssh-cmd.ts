import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { resolveSocketPath } from '../../client/agent-endpoint.js';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { quote } from '../../agent/shell-exports.js';
import { splitSshArgs } from '../../util/ssh-args.js';
import { call } from '../agent.js';
import { runChild } from './run-cmd.js';

/**
 * The remote half of `sigil ssh`, run by the remote login shell (POSIX sh syntax): sshd has
 * bound the forwarded socket at $S (mode 0600, as StreamLocalBindMask's default makes it); it
 * is moved into a fresh 0700 directory, exported as SIGIL_AUTH_SOCK, and removed when the
 * shell or command ends (sshd itself leaves the file behind). Run as a child, not exec'd, so
 * the trap outlives it; a hangup ends the wait and still cleans up. The status is the
 * command's.
 */
const REMOTE_SCRIPT = [
  'D=$(umask 077; mktemp -d /tmp/sigil-ssh.XXXXXXXX 2>/dev/null) && mv "$S" "$D/agent.sock" && S=$D/agent.sock',
  `trap 'rm -f "$S"; [ -z "$D" ] || rmdir "$D" 2>/dev/null' EXIT`,
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'SIGIL_AUTH_SOCK=$S; export SIGIL_AUTH_SOCK',
  'if [ -n "$C" ]; then "${SHELL:-/bin/sh}" -c "$C"; else "${SHELL:-/bin/sh}" -l; fi',
].join('\n');

/**
 * `sigil ssh [ssh options] HOST [command]`: the user's own ssh, with the agent forwarded to a
 * fresh socket on HOST (`-R /tmp/sigil-ssh-RANDOM.sock:$SIGIL_AUTH_SOCK`) and SIGIL_AUTH_SOCK
 * set there for the login shell or the command, so `sigil-token` works on HOST with no set-up
 * (an rc file's `eval "$(sigil-agent)"` keeps it: sigil-agent reuses the agent it names).
 * What HOST may then ask is the forwarded policy's (policy.ts): by default nothing that hands
 * a value out. Ends with ssh's status.
 */
export async function sshCommand(argv: string[]): Promise<never> {
  const { options, destination, command } = splitSshArgs(argv);
  if (destination === undefined) throw new SigilError(ErrorCode.BAD_REQUEST, 'missing the host: sigil ssh [ssh options] HOST [command]');
  const local = resolve(resolveSocketPath().path);
  // ssh reads `-R remote:local`: a colon or a space in the local path would split it wrongly.
  if (/[\s:]/.test(local)) throw new SigilError(ErrorCode.BAD_REQUEST, `cannot forward ${local} with ssh -R: the agent's socket path holds a colon or a space`);
  // An agent must answer here (and pass the client's check of who serves it) before it is offered to another machine.
  const { locked } = await call('status');
  if (locked) process.stderr.write('sigil: the agent is locked: uses from the remote host are refused until you run sigil unlock here\n');

  const remote = `/tmp/sigil-ssh-${randomBytes(12).toString('hex')}.sock`;
  const script = `S=${remote}; C=${quote('sh', command.join(' '))}\n${REMOTE_SCRIPT}`;
  // ssh gives a login shell a terminal by itself, a command none; ours replaces the login
  // shell, so ask for one as ssh would have (-T among the user's options still wins).
  const tty = command.length === 0 && process.stdin.isTTY ? ['-t'] : [];
  const args = [...tty, '-o', 'ExitOnForwardFailure=yes', '-R', `${remote}:${local}`, ...options, destination, script];
  process.exit(await runChild('ssh', args, process.env as Record<string, string>, null));
}
