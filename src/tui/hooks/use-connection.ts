import { useSyncExternalStore } from 'react';
import type { ConnectionState } from '../agent-session.js';
import { useDeps } from './use-deps.js';

/** Whether the session's one connection to the agent is up, and why not. */
export function useConnection(): ConnectionState {
  const { session } = useDeps();
  return useSyncExternalStore(session.subscribe, session.getConnection);
}
