import { AgentClient, type RequestOptions } from '../client/agent-client.js';
import type { Args } from '../protocol/messages.js';

/** One request from the CLI, named in the audit log as "sigil". */
export async function call<T = Record<string, unknown>>(op: string, args: Args = {}, opts: RequestOptions = {}): Promise<T> {
  const client = await AgentClient.connect({ clientName: 'sigil' });
  try {
    return await client.request<T>(op, args, opts);
  } finally {
    client.close();
  }
}
