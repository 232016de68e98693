import type { OpTable } from '../op-table.js';
import { accountOps } from './account-ops.js';
import { flowOps } from './flow-ops.js';
import { providerOps } from './provider-ops.js';
import { secretOps } from './secret-ops.js';
import { confirmOps } from './confirm-ops.js';
import { sessionOps } from './session-ops.js';
import { tokenOps } from './token-ops.js';

/** Every operation the agent answers. */
export const OP_TABLE: OpTable = { ...sessionOps, ...tokenOps, ...accountOps, ...secretOps, ...flowOps, ...providerOps, ...confirmOps };
