import { randomBytes } from 'node:crypto';
import type * as oidc from 'openid-client';
import { describeError, oauthErrorCode } from '../../oauth/oauth-errors.js';
import { defaultScopes } from '../../oauth/provider-config.js';
import type { ProviderRegistry } from '../../oauth/provider-registry.js';
import type { FlowKind, FlowStart } from '../../protocol/results.js';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import type { AccountRegistry } from '../credentials/account-registry.js';
import type { AuditLog } from '../audit-log.js';
import type { Clock } from '../clock.js';
import type { TokenService } from '../credentials/token-service.js';
import type { LockListener } from '../lock/vault-lock.js';

/**
 * Authorization flows run in the agent (as pizauth does): the agent holds the PKCE verifier
 * and the device code, polls, and stores the tokens; clients only show what to do and wait.
 * One flow per account at a time; a new one replaces the old.
 */
export interface FlowOutcome {
  service: string;
  account: string;
  scopes: string[];
  expires_at: number | null;
}

/**
 * How a flow was stopped before it finished, as its audit line says: a cancel (cancel_flow, or
 * every client waiting on it went away), a newer flow for the account, or the lock. A flow that
 * runs out of time is audited FLOW_TIMEOUT instead.
 */
type Stopped = 'cancelled' | 'replaced' | 'locked';

interface Flow {
  id: string;
  service: string;
  account: string;
  kind: FlowKind;
  abort: AbortController;
  outcome: Promise<FlowOutcome>;
  /** why: set by stop(), read by the audit line; settled: the outcome is in. */
  end: { why?: Stopped; settled: boolean };
  /** Connections in wait_flow on it now. */
  waiters: number;
}

/** How long a person gets to finish signing in before the flow gives up. */
const FLOW_TIMEOUT_MS = 10 * 60_000;
/** A finished flow's result stays available to wait_flow for this long. */
const KEEP_FINISHED_MS = 10 * 60_000;

export interface FlowManagerOptions {
  registry: Pick<AccountRegistry, 'get' | 'require'>;
  providers: ProviderRegistry;
  /** Where a finished sign-in's tokens go. */
  tokens: Pick<TokenService, 'storeTokens'>;
  audit: Pick<AuditLog, 'record'>;
  clock: Clock;
  /** How long a person gets to finish signing in (default 10 minutes). */
  timeoutMs?: number;
}

export class FlowManager implements LockListener {
  private readonly flows = new Map<string, Flow>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: FlowManagerOptions) {
    this.timeoutMs = opts.timeoutMs ?? FLOW_TIMEOUT_MS;
  }

  /** On lock: a flow cannot store its tokens in a locked vault. */
  locking(): void {
    this.cancelAll();
  }

  async start(service: string, account: string, kind: FlowKind, scopesArg?: string[]): Promise<FlowStart> {
    const existing = this.opts.registry.get(service, account);
    if (existing?.kind === 'static') {
      throw new SigilError(ErrorCode.ALREADY_EXISTS, `${service}/${account} holds a static token; remove it first (sigil accounts remove ${service} ${account})`);
    }
    const provider = this.opts.providers.provider(service);
    const config = await this.opts.providers.configuration(service);
    const meta = config.serverMetadata();
    const scopes = scopesArg ?? existing?.scopes ?? defaultScopes(provider, meta);
    if (kind === 'device' && !meta.device_authorization_endpoint) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `${service} has no device authorization endpoint; use the browser flow`, { field: 'kind' });
    }
    if (kind === 'auth_code' && !meta.authorization_endpoint) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `${service} has no authorization endpoint; use the device flow (--device)`, { field: 'kind' });
    }
    for (const f of this.flows.values()) if (f.service === service && f.account === account) this.stop(f, 'replaced', `${was(f)} replaced by a new flow`);

    const id = randomBytes(12).toString('hex');
    const abort = new AbortController();
    const timer = this.opts.clock.setTimeout(
      () => abort.abort(new SigilError(ErrorCode.FLOW_TIMEOUT, `the sign-in for ${service}/${account} was not completed within ${Math.round(this.timeoutMs / 60000)} minutes`)),
      this.timeoutMs,
    );

    let info: FlowStart;
    let tokens: Promise<oidc.TokenEndpointResponse>;
    try {
      if (kind === 'auth_code') {
        const { startAuthCodeFlow } = await import('../../oauth/auth-code-flow.js');
        const started = await startAuthCodeFlow(config, provider, scopes, abort.signal);
        info = { flow_id: id, kind, authorization_url: started.authorization_url };
        tokens = started.tokens;
      } else {
        const { startDeviceFlow } = await import('../../oauth/device-flow.js');
        const { tokens: t, ...shown } = await startDeviceFlow(config, scopes, abort.signal);
        info = { flow_id: id, kind, ...shown };
        tokens = t;
      }
    } catch (err) {
      this.opts.clock.clearTimeout(timer);
      throw flowError(err, service, account);
    }
    if (provider.quirks.notice) info.notice = provider.quirks.notice;

    const end: Flow['end'] = { settled: false };
    const outcome = (async (): Promise<FlowOutcome> => {
      try {
        const res = await tokens;
        const issued = await this.opts.tokens.storeTokens(service, account, res, scopes);
        const stored = this.opts.registry.require(service, account);
        this.opts.audit.record({ op: 'flow_complete', target: `${service}/${account}`, result: 'ok' });
        return { service, account, scopes: stored.scopes ?? scopes, expires_at: issued.expires_at };
      } catch (err) {
        const e = flowError(err, service, account);
        this.opts.audit.record({ op: 'flow_complete', target: `${service}/${account}`, result: end.why ?? e.code });
        throw e;
      } finally {
        this.opts.clock.clearTimeout(timer);
        end.settled = true;
        this.opts.clock.setTimeout(() => this.flows.delete(id), KEEP_FINISHED_MS);
      }
    })();
    outcome.catch(() => {});
    this.flows.set(id, { id, service, account, kind, abort, outcome, end, waiters: 0 });
    return info;
  }

  /**
   * The flow's outcome. `gone` resolves when the waiting client has gone (its connection
   * ended): when the last waiter goes (a `sigil accounts add` killed, a closed terminal)
   * nobody is left to use the sign-in, so it is cancelled rather than left to time out.
   */
  async wait(id: string, gone?: Promise<void>): Promise<FlowOutcome> {
    const flow = this.require(id);
    if (!gone) return flow.outcome;
    flow.waiters++;
    let waiting = true;
    const leave = () => {
      if (!waiting) return false;
      waiting = false;
      return --flow.waiters === 0;
    };
    void gone.then(() => {
      if (leave()) this.stop(flow, 'cancelled', `${was(flow)} cancelled: the client waiting for it went away`);
    });
    try {
      return await flow.outcome;
    } finally {
      leave();
    }
  }

  /** cancel_flow: false when the flow had already ended. */
  cancel(id: string): boolean {
    const flow = this.require(id);
    return this.stop(flow, 'cancelled', `${was(flow)} cancelled`);
  }

  /** Stops every flow that still runs (the lock). */
  cancelAll(): void {
    for (const f of this.flows.values()) this.stop(f, 'locked', 'the agent was locked');
  }

  private stop(flow: Flow, why: Stopped, message: string): boolean {
    if (flow.end.settled || flow.abort.signal.aborted) return false;
    flow.end.why = why;
    flow.abort.abort(new SigilError(ErrorCode.FLOW_TIMEOUT, message));
    return true;
  }

  get active(): number {
    return [...this.flows.values()].filter((f) => !f.abort.signal.aborted).length;
  }

  private require(id: string): Flow {
    const flow = this.flows.get(id);
    if (!flow) throw new SigilError(ErrorCode.NOT_FOUND, `no flow with id ${id.slice(0, 40)} (finished flows are kept for 10 minutes)`);
    return flow;
  }
}

const was = (f: Flow) => `the sign-in for ${f.service}/${f.account} was`;

/** What ended a flow, as one of our codes with the provider's words. */
function flowError(err: unknown, service: string, account: string): SigilError {
  if (err instanceof SigilError) return err;
  const code = oauthErrorCode(err);
  if (code === 'access_denied') return new SigilError(ErrorCode.FORBIDDEN, `authorization for ${service}/${account} was denied at the provider (access_denied)`);
  if (code === 'expired_token') return new SigilError(ErrorCode.FLOW_TIMEOUT, `the device code for ${service}/${account} expired before it was approved`);
  return new SigilError(ErrorCode.PROVIDER_ERROR, `authorizing ${service}/${account} failed: ${describeError(err)}`, { cause: err });
}
