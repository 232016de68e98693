import { useCallback, useEffect, useRef, useState } from 'react';
import type { OpAnswer, OpArgs } from '../../protocol/op-catalog.js';
import { useDeps } from './use-deps.js';
import { useInterval } from './use-interval.js';

export interface PolledState<T> {
  /** The last answer; null before the first (and after a failure when `keepOnError` is off). */
  data: T | null;
  error: string | null;
  /** Asks again now instead of waiting for the next poll. */
  again(): Promise<void>;
}

/** The ops polled without arguments: what the status bar and the account list show. */
export type PolledOp = 'status' | 'list_accounts';

/**
 * One agent request repeated every `periodMs`, at most one in flight: a slow agent must not
 * pile up requests.
 */
export function usePolledRequest<O extends PolledOp>(op: O, periodMs: number, opts: { keepOnError: boolean }): PolledState<OpAnswer<O>> {
  type T = OpAnswer<O>;
  const { session } = useDeps();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inflight = useRef<Promise<void> | null>(null);

  const again = useCallback((): Promise<void> => {
    if (inflight.current) return inflight.current;
    const p = session
      .call(op, {} as OpArgs<O>) // both polled ops take no arguments
      .then(
        (answer) => {
          setData(answer);
          setError(null);
        },
        (err: Error) => {
          if (!opts.keepOnError) setData(null);
          setError(err.message);
        },
      )
      .finally(() => {
        inflight.current = null;
      });
    inflight.current = p;
    return p;
  }, [session, op, opts.keepOnError]);

  useEffect(() => {
    void again();
  }, [again]);
  useInterval(() => void again(), periodMs);
  return { data, error, again };
}
