import { AgentClient, type CallRest } from '../client/agent-client.js';
import type { Op, OpAnswer } from '../protocol/op-catalog.js';

/** Where the CLI's requests go: $SIGIL_AUTH_SOCK's agent, or the one `sigil --direct` runs in this process. */
let direct: { socketPath: string } | null = null;

/** With `socketPath`: this process's own agent (direct-mode.ts); null: back to $SIGIL_AUTH_SOCK. */
export function useDirectAgent(socketPath: string | null): void {
  direct = socketPath === null ? null : { socketPath };
}

/** A connection for the CLI, named in the audit log "sigil" (or "sigil --direct"). */
export function connectAgent(): Promise<AgentClient> {
  return AgentClient.connect(direct ? { clientName: 'sigil --direct', socketPath: direct.socketPath } : { clientName: 'sigil' });
}

/** One request from the CLI, typed by the op catalogue. */
export async function call<O extends Op>(op: O, ...rest: CallRest<O>): Promise<OpAnswer<O>> {
  const client = await connectAgent();
  try {
    return await client.call(op, ...rest);
  } finally {
    client.close();
  }
}
