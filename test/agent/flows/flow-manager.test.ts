import { afterAll, afterEach, assert, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/agent/audit-log.js';
import { FlowManager } from '../../../src/agent/flows/flow-manager.js';
import { ProviderRegistry } from '../../../src/oauth/provider-registry.js';
import { ErrorCode } from '../../../src/protocol/codes.js';
import { FakeClock } from '../../support/fake-clock.js';
import { AgentClient } from '../../../src/client/agent-client.js';
import type { FlowStart } from '../../../src/protocol/results.js';
import { startFakeGithub, type FakeGithub } from '../../support/fake-github.js';
import { startOidcServer, type OidcServer } from '../../support/oidc-server.js';
import { eventually, type Sandbox } from '../../support/sandbox.js';
import { agentWithConfig, fakeGithubProvider, oidcProvider, spawnSigil } from '../../oauth/flow-helpers.js';

/** The flow_complete lines of the audit log, read through the agent (it flushes first). */
async function flowEnds(sb: Sandbox): Promise<{ target?: string; result: string }[]> {
  const r = await sb.sigil(['audit', '--json', '-n', '200']);
  return (JSON.parse(r.stdout) as { op: string; target?: string; result: string }[]).filter((e) => e.op === 'flow_complete');
}

async function endedAs(sb: Sandbox, target: string): Promise<string> {
  let result: string | undefined;
  await eventually(async () => {
    result = (await flowEnds(sb)).find((e) => e.target === target)?.result;
    return result !== undefined;
  });
  return result!;
}

/**
 * How a sign-in flow ended, as the audit log says it: a cancelled flow (Ctrl-C of `sigil
 * accounts add`, cancel_flow, its client gone) was audited FLOW_TIMEOUT, like one that ran out
 * of time. Against the real agent and a real OpenID provider (device flow).
 */
describe('flow_complete says how a flow ended (real oidc-provider)', () => {
  let op: OidcServer;
  let sb: Sandbox;
  beforeAll(async () => {
    op = await startOidcServer({ deviceInterval: 1 });
  });
  afterAll(async () => {
    await op?.close();
  });
  beforeEach(async () => {
    sb = await agentWithConfig(oidcProvider(op));
  });
  afterEach(() => sb.cleanup());

  it('Ctrl-C of sigil accounts add is audited cancelled, not FLOW_TIMEOUT', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'corp', 'alice', '--device']);
    await cmd.waitFor(/Waiting for the sign-in/);
    cmd.child.kill('SIGINT');
    expect((await cmd.done).code).toBe(130);
    expect(await endedAs(sb, 'corp/alice')).toBe('cancelled');
  });

  it('a client that goes away while waiting cancels its flow (audited cancelled)', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'corp', 'bob', '--device']);
    await cmd.waitFor(/Waiting for the sign-in/);
    cmd.child.kill('SIGKILL'); // no chance to send cancel_flow
    await cmd.done;
    expect(await endedAs(sb, 'corp/bob')).toBe('cancelled');
  });

  it('cancel_flow, a replacing flow and the lock each have their own result', async () => {
    const client = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const first = await client.request<FlowStart>('start_flow', { service: 'corp', account: 'carol', kind: 'device' });
      const waiting = client.request('wait_flow', { flow_id: first.flow_id }, { timeoutMs: 0 });
      waiting.catch(() => {}); // asserted below, after the flow that replaces it
      const second = await client.request<FlowStart>('start_flow', { service: 'corp', account: 'carol', kind: 'device' });
      await expect(waiting).rejects.toMatchObject({ code: 'FLOW_TIMEOUT', message: 'the sign-in for corp/carol was replaced by a new flow' });
      expect(await client.request('cancel_flow', { flow_id: second.flow_id })).toEqual({ cancelled: true });
      expect(await client.request('cancel_flow', { flow_id: second.flow_id })).toEqual({ cancelled: false });
      await client.request<FlowStart>('start_flow', { service: 'corp', account: 'dave', kind: 'device' });
      expect((await sb.sigil(['lock'])).code).toBe(0);
      await eventually(async () => (await flowEnds(sb)).length === 3);
      expect(await flowEnds(sb)).toEqual([
        expect.objectContaining({ target: 'corp/carol', result: 'replaced' }),
        expect.objectContaining({ target: 'corp/carol', result: 'cancelled' }),
        expect.objectContaining({ target: 'corp/dave', result: 'locked' }),
      ]);
    } finally {
      client.close();
    }
  });

  it('a flow nobody waits on is left running when its client closes (it may wait later)', async () => {
    const starter = await AgentClient.connect({ socketPath: sb.socket });
    const flow = await starter.request<FlowStart>('start_flow', { service: 'corp', account: 'erin', kind: 'device' });
    starter.close();
    const waiter = await AgentClient.connect({ socketPath: sb.socket });
    try {
      const waiting = waiter.request('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 0 });
      expect(await waiter.request('cancel_flow', { flow_id: flow.flow_id })).toEqual({ cancelled: true });
      await expect(waiting).rejects.toMatchObject({ code: 'FLOW_TIMEOUT', message: 'the sign-in for corp/erin was cancelled' });
    } finally {
      waiter.close();
    }
  });
});

describe('a flow that runs out of time stays FLOW_TIMEOUT (real agent, fake GitHub)', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeAll(async () => {
    gh = await startFakeGithub({ interval: 1, deviceExpiresIn: 1 });
    sb = await agentWithConfig(fakeGithubProvider(gh));
  });
  afterAll(async () => {
    sb?.cleanup();
    await gh?.close();
  });

  it('an expired device code is audited FLOW_TIMEOUT', async () => {
    const r = await sb.sigil(['accounts', 'add', 'github', 'late', '--device']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('expired before it was approved');
    expect(await endedAs(sb, 'github/late')).toBe('FLOW_TIMEOUT');
  });
});

/**
 * The flows part alone, on a fake clock: a sign-in not finished within its time is stopped and
 * audited FLOW_TIMEOUT, and its result is kept for wait_flow for 10 minutes, then forgotten.
 * The device authorization is the fake GitHub's (real HTTP on 127.0.0.1); no time passes.
 */
describe('FlowManager: expiry (fake clock)', () => {
  let gh: FakeGithub;
  beforeAll(async () => {
    gh = await startFakeGithub();
  });
  afterAll(async () => {
    await gh?.close();
  });

  function flows() {
    const clock = new FakeClock();
    const audit: AuditEvent[] = [];
    const e = gh.endpoints;
    const providers = new ProviderRegistry(
      { github: { client_id: 'Iv1.sigiltest', token_endpoint: e.token_endpoint, device_authorization_endpoint: e.device_authorization_endpoint } },
      async () => null,
    );
    const manager = new FlowManager({
      registry: { get: () => undefined, require: () => assert.fail('no account is stored by a flow that expires') },
      providers,
      tokens: { storeTokens: () => assert.fail('no tokens come from a flow that expires') },
      audit: { record: (ev) => void audit.push(ev) },
      clock,
      timeoutMs: 10 * 60_000,
    });
    return { clock, audit, manager };
  }

  it('times out after 10 minutes: FLOW_TIMEOUT to the waiter and in the audit line; kept 10 minutes more, then NOT_FOUND', async () => {
    const { clock, audit, manager } = flows();
    const started = await manager.start('github', 'octocat', 'device');
    const id = String(started.flow_id);
    const outcome = manager.wait(id);
    expect(manager.active).toBe(1);
    clock.advance(10 * 60_000 - 1);
    expect(manager.active).toBe(1);
    clock.advance(1);
    await expect(outcome).rejects.toMatchObject({ code: ErrorCode.FLOW_TIMEOUT, message: expect.stringContaining('not completed within 10 minutes') });
    expect(audit).toEqual([{ op: 'flow_complete', target: 'github/octocat', result: ErrorCode.FLOW_TIMEOUT }]);
    expect(manager.active).toBe(0);
    // The result stays for a late `sigil accounts add` …
    clock.advance(10 * 60_000 - 1);
    await expect(manager.wait(id)).rejects.toMatchObject({ code: ErrorCode.FLOW_TIMEOUT });
    // … and is then forgotten.
    clock.advance(1);
    await expect(manager.wait(id)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(clock.timers).toEqual([]);
  });

  it('the lock stops a running flow (audited locked) and clears its timer', async () => {
    const { clock, audit, manager } = flows();
    const started = await manager.start('github', 'octocat', 'device');
    const outcome = manager.wait(String(started.flow_id));
    manager.locking();
    await expect(outcome).rejects.toMatchObject({ code: ErrorCode.FLOW_TIMEOUT, message: 'the agent was locked' });
    expect(audit).toEqual([{ op: 'flow_complete', target: 'github/octocat', result: 'locked' }]);
    expect(clock.timers.length).toBe(1); // only the kept result's
  });
});
