import { AgentClient, type CallRest } from '../client/agent-client.js';
import type { Op, OpAnswer } from '../protocol/op-catalog.js';

/** One request from the CLI, named in the audit log as "sigil", typed by the op catalogue. */
export async function call<O extends Op>(op: O, ...rest: CallRest<O>): Promise<OpAnswer<O>> {
  const client = await AgentClient.connect({ clientName: 'sigil' });
  try {
    return await client.call(op, ...rest);
  } finally {
    client.close();
  }
}
