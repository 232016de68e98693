import { SigilError } from '../protocol/errors.js';
import { badFrameLength, MAX_FRAME } from '../protocol/frame.js';
import type { Args } from '../protocol/messages.js';
import type { Op, OpAnswer, OpArgs } from '../protocol/op-catalog.js';
import type { ExchangeError, SyncClient } from '../native/sync-client.js';
import {
  agentClosed,
  connectFailed,
  connectTimedOut,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  noAnswer,
  type Endpoint,
} from './agent-endpoint.js';
import { foreignAgent, ownUid } from './agent-trust.js';
import { helloArgs, readReply, requestFrame } from './wire.js';

export interface SyncRequestOptions {
  /** As AgentClient's: a `hello` naming the client goes in the same write, ahead of the request. */
  clientName?: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * One request on a fresh connection through the native client, synchronously: what
 * `AgentClient.connect(...)` + `request(...)` does, with the same frames on the wire and the
 * same SigilError for every failure, for a process that has nothing to do while it waits.
 * Typed by the op catalogue, as AgentClient.call is.
 */
export function requestSync<O extends Op>(client: SyncClient, endpoint: Endpoint, op: O, args: OpArgs<O>, opts: SyncRequestOptions = {}): OpAnswer<O> {
  // Ids as AgentClient numbers them: the hello is 1 when there is one.
  const frames = opts.clientName ? [requestFrame(1, 'hello', helloArgs(opts.clientName))] : [];
  const id = frames.length + 1;
  frames.push(requestFrame(id, op, args as Args));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let bodies: Buffer[];
  let failure: SigilError;
  try {
    // The native client checks who listens before it writes (see agent-trust.ts).
    const agentUid = ownUid() ?? -1;
    bodies = client.exchange(endpoint.path, Buffer.concat(frames), frames.length, timeoutMs, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, MAX_FRAME, agentUid);
    failure = agentClosed(endpoint.path); // only if no body is the answer: cannot happen with a sane agent
  } catch (err) {
    const e = err as ExchangeError;
    if (e.code === 'EPEERUID') throw foreignAgent(endpoint, e.peerUid!, e.peerPid);
    if (e.syscall === 'getsockopt') throw new SigilError('FORBIDDEN', `cannot tell who runs the agent at ${endpoint.path} (${e.code}); nothing was sent`);
    if (e.syscall === 'socket' || e.syscall === 'connect') throw e.code === 'ETIMEDOUT' ? connectTimedOut(endpoint) : connectFailed(endpoint, e);
    bodies = e.frames ?? [];
    failure =
      e.frameLength !== undefined ? badFrameLength(e.frameLength)! : e.code === 'ETIMEDOUT' ? noAnswer(endpoint.path, op, timeoutMs) : agentClosed(endpoint.path);
  }
  // In arrival order, as AgentClient delivers them: what came whole before a failure counts,
  // and an error about the connection fails the request if its answer has not come yet.
  for (const body of bodies) {
    const reply = readReply(body);
    if (!reply) continue;
    if (reply.id === null) throw reply.outcome;
    // The hello's answer is not awaited, as AgentClient does not await it: an agent that
    // speaks no version of ours answers the request itself with UNSUPPORTED_VERSION.
    if (reply.id !== id) continue;
    if (reply.outcome instanceof SigilError) throw reply.outcome;
    return reply.outcome as OpAnswer<O>;
  }
  throw failure;
}
