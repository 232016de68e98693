import type { Args } from '../protocol/messages.js';
import { OP_CATALOG, OPS, type Op, type OpAnswer, type OpArgs, type OpFacts } from '../protocol/op-catalog.js';
import { AgentClient, type CallRest, type RequestOptions } from './agent-client.js';

/**
 * The client other Node programs get from `import { connect } from 'sigilforge'`: AgentClient
 * (the same transport, peer check and errors as the CLI's) behind a surface made from the op
 * catalogue — one method per op, named in camelCase, taking the op's `positional` arguments
 * in order and the rest in an object. A new op in the catalogue is a new method here.
 */

export interface ConnectOptions {
  /** The agent's socket; defaults to $SIGIL_AUTH_SOCK, then the default socket path. */
  socket?: string;
  /** Names this program in the agent's audit log. */
  clientName?: string;
  /** How long to wait for the socket to accept (ms; default 5000). */
  connectTimeoutMs?: number;
}

/** `get_token` → `getToken`. */
export type MethodName<O extends string> = O extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<MethodName<Tail>>}` : O;

type Positional<O extends Op> = (typeof OP_CATALOG)[O] extends { positional: infer P extends readonly (keyof OpArgs<O>)[] } ? P : readonly [];
type PositionalValues<O extends Op, P extends readonly (keyof OpArgs<O>)[] = Positional<O>> = { -readonly [K in keyof P]: OpArgs<O>[P[K]] };
type Others<O extends Op> = Omit<OpArgs<O>, Positional<O>[number]>;
/** After the positional arguments: the op's others in an object (optional when none is required), then the options. */
type RestFor<O extends Op> = Record<string, never> extends Others<O> ? [args?: Others<O>, opts?: RequestOptions] : [args: Others<O>, opts?: RequestOptions];

/** One method per op of the catalogue. */
export type OpMethods = { [O in Op as MethodName<O>]: (...args: [...PositionalValues<O>, ...RestFor<O>]) => Promise<OpAnswer<O>> };

export function methodName<O extends Op>(op: O): MethodName<O> {
  return op.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as MethodName<O>;
}

export interface SigilClient extends OpMethods {}

export class SigilClient {
  constructor(private readonly agent: AgentClient) {}

  /** The socket this client is connected to. */
  get socketPath(): string {
    return this.agent.socketPath;
  }

  /** Any op by its protocol name: its arguments in, its result out (sigil-protocol(7)). */
  call<O extends Op>(op: O, ...[args, opts]: CallRest<O>): Promise<OpAnswer<O>> {
    // wait_flow, wait_confirm: the answer comes when a person acts, so no timeout unless asked.
    const waits = (OP_CATALOG[op] as OpFacts).waits === true && opts?.timeoutMs === undefined;
    return this.agent.request<OpAnswer<O>>(op, (args ?? {}) as Args, waits ? { ...opts, timeoutMs: 0 } : opts);
  }

  /** Ends the connection; requests still outstanding fail with NO_AGENT. */
  close(): void {
    this.agent.close();
  }
}

for (const op of OPS) {
  const names = (OP_CATALOG[op] as OpFacts).positional ?? [];
  Object.defineProperty(SigilClient.prototype, methodName(op), {
    value(this: SigilClient, ...values: unknown[]) {
      const args: Record<string, unknown> = { ...(values[names.length] as object | undefined) };
      names.forEach((name, i) => (args[name] = values[i]));
      return (this.call as (op: Op, args: Args, opts?: RequestOptions) => Promise<unknown>)(op, args as Args, values[names.length + 1] as RequestOptions | undefined);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Connects to the agent, refusing (FORBIDDEN, nothing sent) one that runs as another user.
 * Errors are SigilError with a `code` from ErrorCode; NO_AGENT when nothing answers.
 */
export async function connect(opts: ConnectOptions = {}): Promise<SigilClient> {
  const agent = await AgentClient.connect({
    ...(opts.socket ? { socketPath: opts.socket } : {}),
    ...(opts.clientName ? { clientName: opts.clientName } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });
  return new SigilClient(agent);
}
