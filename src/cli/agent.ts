import { AgentClient, type CallRest } from '../client/agent-client.js';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { opFacts, type Op, type OpAnswer } from '../protocol/op-catalog.js';

/** The agent `sigil --direct` runs in this process (direct-mode.ts), and how to unlock it when first needed. */
export interface DirectAgent {
  socketPath: string;
  unlock(): Promise<void>;
}

/** Where the CLI's requests go: $SIGIL_AUTH_SOCK's agent, or this process's own. */
let direct: DirectAgent | null = null;

/** With an agent: this process's own (direct-mode.ts); null: back to $SIGIL_AUTH_SOCK. */
export function useDirectAgent(agent: DirectAgent | null): void {
  direct = agent;
}

/**
 * A connection for the CLI, named in the audit log "sigil" (or "sigil --direct"). To this
 * process's own agent, a request for an op that needs the unlocked vault (the catalogue's
 * `unlocked`) first unlocks it, asking for the passphrase once; one answered LOCKED all the
 * same is sent again after the unlock (the agent checks the lock before it runs an op).
 */
export async function connectAgent(): Promise<AgentClient> {
  const own = direct;
  if (!own) return AgentClient.connect({ clientName: 'sigil' });
  const client = await AgentClient.connect({ clientName: 'sigil --direct', socketPath: own.socketPath });
  const request = client.request.bind(client);
  client.request = async (op, args, opts) => {
    if (opFacts(op)?.unlocked) await own.unlock();
    try {
      return await request(op, args, opts);
    } catch (err) {
      if (!(err instanceof SigilError) || err.code !== ErrorCode.LOCKED || op === 'unlock') throw err;
      await own.unlock();
      return request(op, args, opts);
    }
  };
  return client;
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
