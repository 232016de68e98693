import { describe, expect, it } from 'vitest';
import { opTable } from '../../src/agent/op-table.js';
import { OP_HANDLERS, OP_TABLE } from '../../src/agent/ops/index.js';
import { OP_CATALOG, OPS } from '../../src/protocol/op-catalog.js';

const run = () => ({});

describe('the op table', () => {
  it('has exactly one handler for every catalogue op, and a catalogue entry for every handler', () => {
    const handled = OP_HANDLERS.flatMap((group) => Object.keys(group));
    expect([...handled].sort()).toEqual([...OPS].sort()); // one each: a second handler would show twice
    expect(Object.keys(OP_TABLE).sort()).toEqual([...OPS].sort());
  });

  it("takes each op's lock check, audit and audit target from the catalogue", () => {
    for (const op of OPS) {
      const spec = OP_TABLE[op]!;
      const facts = OP_CATALOG[op];
      expect(spec.secret, op).toBe(facts.unlocked);
      expect(spec.audit, op).toBe(facts.audit);
      expect(spec.target, op).toBe('target' in facts ? facts.target : undefined);
    }
  });

  it('refuses (at start-up) a second handler, a handler of no op, and an op without a handler', () => {
    const all = Object.fromEntries(OPS.map((op) => [op, { run }]));
    expect(() => opTable([all])).not.toThrow();
    expect(() => opTable([all, { lock: { run } }])).toThrow('two handlers for "lock"');
    expect(() => opTable([all, { lock_all: { run } } as never])).toThrow('handler for "lock_all", which the op catalogue does not list');
    const { passwd: _, ...withoutPasswd } = all;
    expect(() => opTable([withoutPasswd])).toThrow('no handler for passwd');
  });

  it('audits every operation that touches a secret', () => {
    for (const [op, spec] of Object.entries(OP_TABLE)) {
      // wait_flow is audited by the flow's own completion line.
      if (spec.secret && op !== 'wait_flow') expect(spec.audit, op).toBe(true);
    }
  });
});
