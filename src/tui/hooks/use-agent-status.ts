import { useCallback, useEffect, useRef, useState } from 'react';
import type { AgentStatus } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';
import { useInterval } from './use-interval.js';

export interface AgentStatusState {
  /** null until the first answer, and while no agent answers. */
  status: AgentStatus | null;
  error: string | null;
  /** Asks again now (after a lock or an unlock), instead of waiting for the next poll. */
  refresh(): Promise<void>;
}

/**
 * Polls `status` every second. The agent never counts `status` as use, so this poll does not
 * keep an idle agent unlocked.
 */
export function useAgentStatus(): AgentStatusState {
  const { session, poll } = useDeps();
  const [status, setStatus] = useState<AgentStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inflight = useRef<Promise<void> | null>(null);

  const refresh = useCallback((): Promise<void> => {
    // One poll at a time: a slow agent must not pile up requests.
    if (inflight.current) return inflight.current;
    const p = session
      .call<AgentStatus>('status')
      .then(
        (s) => {
          setStatus(s);
          setError(null);
        },
        (err: Error) => {
          setStatus(null);
          setError(err.message);
        },
      )
      .finally(() => {
        inflight.current = null;
      });
    inflight.current = p;
    return p;
  }, [session]);

  useEffect(() => {
    void refresh();
  }, [refresh]);
  useInterval(() => void refresh(), poll.statusMs);
  return { status, error, refresh };
}
