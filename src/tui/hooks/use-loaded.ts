import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  /** The last answer; null before the first. A failure keeps what was there. */
  data: T | null;
  error: string | null;
  /** Asks again (after a change the screen made). */
  reload(): Promise<void>;
}

/**
 * One agent request made when the screen opens and again on reload(), never polled (what
 * usePolledRequest is for). `load` must be stable (useCallback): a new one loads again. An
 * answer that comes after the screen is gone is dropped.
 */
export function useLoaded<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const alive = useRef(true);

  const reload = useCallback(
    () =>
      load().then(
        (answer) => {
          if (!alive.current) return;
          setData(answer);
          setError(null);
        },
        (err: Error) => {
          if (alive.current) setError(err.message);
        },
      ),
    [load],
  );

  useEffect(() => {
    alive.current = true;
    void reload();
    return () => {
      alive.current = false;
    };
  }, [reload]);

  return { data, error, reload };
}
