import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { defaultSocketPath } from '../util/paths.js';

/**
 * Where the agent is, how long to wait for it, and what to tell people when it is not
 * there: shared by both transports (AgentClient on node:net, and sigil-token's synchronous
 * native client), so they fail with the same words and the same exit code.
 */

/** Long enough for an unlock (one scrypt, ~1 s), or a get_token that refreshes, on a loaded machine. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface Endpoint {
  path: string;
  /** Named by $SIGIL_AUTH_SOCK: messages say so, since that is what the user would check. */
  fromEnv: boolean;
}

export interface EndpointOptions {
  /** Defaults to $SIGIL_AUTH_SOCK, then the default socket path. */
  socketPath?: string;
  env?: Record<string, string | undefined>;
}

export function resolveSocketPath(opts: EndpointOptions = {}): Endpoint {
  if (opts.socketPath) return { path: opts.socketPath, fromEnv: false };
  const env = opts.env ?? process.env;
  const fromEnv = env.SIGIL_AUTH_SOCK;
  if (fromEnv) return { path: fromEnv, fromEnv: true };
  return { path: defaultSocketPath(env), fromEnv: false };
}

export function noAgent({ path, fromEnv }: Endpoint, reason: string): SigilError {
  const where = fromEnv ? `SIGIL_AUTH_SOCK=${path}` : path;
  if (reason === 'permission denied') {
    // Not a missing agent: someone else's socket (or directory). Starting another will not help.
    return new SigilError(ErrorCode.NO_AGENT, `cannot connect to ${where}: permission denied (the socket or its directory belongs to another user)`);
  }
  return new SigilError(
    ErrorCode.NO_AGENT,
    `no agent answers at ${where} (${reason}) — start one with: eval "$(sigil-agent)"`,
  );
}

const CONNECT_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'nothing listening', // a socket file left by an agent that died
  EACCES: 'permission denied',
};

/** connect(2) failed: the errno's code (ENOENT…) says why. */
export function connectFailed(where: Endpoint, err: { code?: string | undefined; message: string }): SigilError {
  return noAgent(where, (err.code && CONNECT_REASONS[err.code]) ?? err.code ?? err.message);
}

export function connectTimedOut(where: Endpoint): SigilError {
  return noAgent(where, 'timed out connecting');
}

export function noAnswer(socketPath: string, op: string, timeoutMs: number): SigilError {
  const within = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
  return new SigilError(ErrorCode.NO_AGENT, `the agent at ${socketPath} did not answer "${op}" within ${within}`);
}

export function agentClosed(socketPath: string): SigilError {
  return new SigilError(ErrorCode.NO_AGENT, `the agent at ${socketPath} closed the connection`);
}
