import { opTable, type OpHandlers, type OpTable } from '../op-table.js';
import { accountOps } from './account-ops.js';
import { flowOps } from './flow-ops.js';
import { providerOps } from './provider-ops.js';
import { secretOps } from './secret-ops.js';
import { confirmOps } from './confirm-ops.js';
import { sessionOps } from './session-ops.js';
import { tokenOps } from './token-ops.js';

/** The handlers, by area. */
export const OP_HANDLERS: readonly OpHandlers[] = [sessionOps, tokenOps, accountOps, secretOps, flowOps, providerOps, confirmOps];

/** Every operation the agent answers. */
export const OP_TABLE: OpTable = opTable(OP_HANDLERS);
