import { useCallback, useEffect, useState } from 'react';
import type { Tone } from '../format.js';

export interface Notice {
  text: string;
  tone: Tone;
}

/** How long an outcome message stays on the notice line. */
const NOTICE_MS = 8000;

/** The one-line message above the status bar ("Refreshed github/work", an error). */
export function useNotice(): { notice: Notice | null; notify(text: string, tone?: Tone): void; clear(): void } {
  const [notice, setNotice] = useState<Notice | null>(null);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => setNotice(null), NOTICE_MS);
    return () => clearTimeout(t);
  }, [notice]);
  const notify = useCallback((text: string, tone: Tone = 'plain') => setNotice({ text, tone }), []);
  const clear = useCallback(() => setNotice(null), []);
  return { notice, notify, clear };
}
