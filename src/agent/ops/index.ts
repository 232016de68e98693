import type { Op, OpAnswer } from '../../protocol/op-catalog.js';
import { opTable, type OpHandlers, type OpTable } from '../op-table.js';
import { accountOps } from './account-ops.js';
import { flowOps } from './flow-ops.js';
import { providerOps } from './provider-ops.js';
import { secretOps } from './secret-ops.js';
import { confirmOps } from './confirm-ops.js';
import { sessionOps } from './session-ops.js';
import { tokenOps } from './token-ops.js';
import { syncOps } from './sync-ops.js';

/** The handlers, by area. */
export const OP_HANDLERS: readonly OpHandlers[] = [sessionOps, tokenOps, accountOps, secretOps, flowOps, providerOps, confirmOps, syncOps];

/** Every operation the agent answers. */
export const OP_TABLE: OpTable = opTable(OP_HANDLERS);

/**
 * The fields a group's handlers answer beyond their op's type in the catalogue. A return type
 * only has to be assignable, so an extra field would pass unseen (status answered three its
 * type lacked): this names them, and the line below does not compile unless there are none.
 */
type ExtraFields<G> = {
  [O in keyof G & Op]: G[O] extends { run(...args: never[]): infer R } ? (Awaited<R> extends infer A ? (A extends unknown ? `${O}.${Exclude<keyof A, keyof OpAnswer<O>> & string}` : never) : never) : never;
}[keyof G & Op];
type Extra = ExtraFields<typeof sessionOps> | ExtraFields<typeof tokenOps> | ExtraFields<typeof accountOps> | ExtraFields<typeof secretOps> | ExtraFields<typeof flowOps> | ExtraFields<typeof providerOps> | ExtraFields<typeof confirmOps> | ExtraFields<typeof syncOps>;
export const ANSWERS_AS_CATALOGUED: [Extra] extends [never] ? true : { extraFields: Extra } = true;
