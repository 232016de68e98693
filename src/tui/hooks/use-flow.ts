import { useCallback, useEffect, useRef, useState } from 'react';
import { ErrorCode } from '../../protocol/codes.js';
import type { SigilError } from '../../protocol/errors.js';
import type { AgentSession } from '../agent-session.js';
import type { FlowDone, FlowKind, FlowStart } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';

export type FlowState =
  | { phase: 'idle' }
  | { phase: 'starting' }
  /** browserOpened: null when no browser was tried (device flow, or none to start). */
  | { phase: 'waiting'; flow: FlowStart; browserOpened: boolean | null }
  | { phase: 'done'; result: FlowDone }
  | { phase: 'failed'; code: string; message: string }
  | { phase: 'cancelled' };

export interface FlowControl {
  state: FlowState;
  /** mustBeNew: refuse (ALREADY_EXISTS) when the account exists — "add" must not replace one. */
  start(service: string, account: string, kind: FlowKind, scopes: string[] | undefined, opts?: { mustBeNew?: boolean }): Promise<void>;
  /** Esc while waiting: the agent abandons the flow (cancel_flow). */
  cancel(): Promise<void>;
}

/**
 * One OAuth sign-in run by the agent: start_flow, then the browser or the device code, then
 * wait_flow until the agent has the tokens. Leaving the screen mid-flow cancels it.
 */
export function useFlow(): FlowControl {
  const { session, openUrl, browser } = useDeps();
  const [state, setState] = useState<FlowState>({ phase: 'idle' });
  const flowId = useRef<string | null>(null);
  const cancelled = useRef(false);

  const start = useCallback(
    async (service: string, account: string, kind: FlowKind, scopes: string[] | undefined, opts: { mustBeNew?: boolean } = {}) => {
      cancelled.current = false;
      setState({ phase: 'starting' });
      let flow: FlowStart;
      try {
        if (opts.mustBeNew && (await accountExists(session, service, account))) {
          setState({ phase: 'failed', code: ErrorCode.ALREADY_EXISTS, message: `account ${service}/${account} already exists; to sign in again, select it in the accounts list and press A` });
          return;
        }
        flow = await session.call('start_flow', { service, account, kind, ...(scopes && scopes.length ? { scopes } : {}) });
      } catch (err) {
        const e = err as SigilError;
        setState({ phase: 'failed', code: e.code, message: e.message });
        return;
      }
      flowId.current = flow.flow_id;
      if (cancelled.current) {
        // Esc came while start_flow was on its way.
        void session.call('cancel_flow', { flow_id: flow.flow_id }).catch(() => {});
        return;
      }
      let browserOpened: boolean | null = null;
      if (flow.kind === 'auth_code' && flow.authorization_url && browser().canLaunch) {
        browserOpened = await openUrl(flow.authorization_url).catch(() => false);
      }
      if (cancelled.current) return;
      setState({ phase: 'waiting', flow, browserOpened });
      try {
        // No client-side timeout: the agent ends the flow (FLOW_TIMEOUT) when the code expires.
        const result = await session.call('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 0 });
        if (!cancelled.current) setState({ phase: 'done', result });
      } catch (err) {
        const e = err as SigilError;
        if (!cancelled.current) setState({ phase: 'failed', code: e.code, message: e.message });
      } finally {
        flowId.current = null;
      }
    },
    [session, openUrl, browser],
  );

  const cancel = useCallback(async () => {
    cancelled.current = true;
    const id = flowId.current;
    flowId.current = null;
    setState({ phase: 'cancelled' });
    if (id) await session.call('cancel_flow', { flow_id: id }).catch(() => {});
  }, [session]);

  useEffect(
    () => () => {
      const id = flowId.current;
      cancelled.current = true;
      if (id) void session.call('cancel_flow', { flow_id: id }).catch(() => {});
    },
    [session],
  );

  return { state, start, cancel };
}

/** Whether the agent has the account (get_account: metadata, works while locked). */
export async function accountExists(session: AgentSession, service: string, account: string): Promise<boolean> {
  try {
    await session.call('get_account', { service, account });
    return true;
  } catch (err) {
    if ((err as SigilError).code === ErrorCode.NOT_FOUND) return false;
    throw err;
  }
}
