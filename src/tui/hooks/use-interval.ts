import { useEffect, useRef } from 'react';

/** Calls `fn` every `ms` (not at all when ms is null); the latest `fn` is always the one called. */
export function useInterval(fn: () => void, ms: number | null): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const t = setInterval(() => latest.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}
