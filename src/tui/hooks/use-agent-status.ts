import type { AgentStatus } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';
import { usePolledRequest } from './use-polled-request.js';

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
  const { poll } = useDeps();
  const { data, error, again } = usePolledRequest('status', poll.statusMs, { keepOnError: false });
  return { status: data, error, refresh: again };
}
