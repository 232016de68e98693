import { expect, it } from 'vitest';
import { OP_TABLE } from '../../src/agent/ops/index.js';
import { OPS } from '../../src/protocol/messages.js';

it('answers exactly the operations the protocol module lists', () => {
  expect(Object.keys(OP_TABLE).sort()).toEqual([...OPS].sort());
});

it('audits every operation that touches a secret', () => {
  for (const [op, spec] of Object.entries(OP_TABLE)) {
    // wait_flow is audited by the flow's own completion line.
    if (spec.secret && op !== 'wait_flow') expect(spec.audit, op).toBe(true);
  }
});
