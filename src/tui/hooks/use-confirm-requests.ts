import { useCallback, useEffect, useRef, useState } from 'react';
import { ErrorCode } from '../../protocol/codes.js';
import { toSigilError } from '../../protocol/errors.js';
import type { ConfirmPrompt } from '../../protocol/results.js';
import { useDeps } from './use-deps.js';

/** A question from the agent (`confirm = true`): may this client have this value? */
export interface ConfirmQuestion extends ConfirmPrompt {
  /** When the TUI got it (ms, the deps clock): the agent gives up timeout_s after asking. */
  receivedAt: number;
}

/** After a failed wait (agent gone, restarting), ask again this much later. */
const RETRY_MS = 1000;

/**
 * While the TUI is open it is the agent's way to ask the person (ssh-add -c style): it
 * long-polls `wait_confirm` and shows each question until it is answered, withdrawn or timed
 * out. An agent too old to know the op is left alone.
 */
export function useConfirmRequests(): { question: ConfirmQuestion | null; answer(allow: boolean): void } {
  const { session, now } = useDeps();
  const [question, setQuestion] = useState<ConfirmQuestion | null>(null);
  const settle = useRef<((allow: boolean | null) => void) | null>(null);

  useEffect(() => {
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        let q: ConfirmQuestion;
        try {
          q = { ...(await session.call('wait_confirm', {}, { timeoutMs: 0 })), receivedAt: now() };
        } catch (err) {
          if (stopped || toSigilError(err).code === ErrorCode.UNKNOWN_OP) return;
          await new Promise<void>((r) => (retry = setTimeout(r, RETRY_MS)));
          continue;
        }
        if (stopped) return;
        // null: the agent stopped asking (its time ran out); nothing to send.
        const allow = await new Promise<boolean | null>((resolve) => {
          settle.current = resolve;
          setQuestion(q);
          retry = setTimeout(() => resolve(null), q.timeout_s * 1000);
        });
        clearTimeout(retry);
        settle.current = null;
        setQuestion(null);
        if (allow !== null && !stopped) {
          // NOT_FOUND: answered in another TUI, or withdrawn (a lock) — nothing left to do.
          await session.call('answer_confirm', { confirm_id: q.confirm_id, allow }).catch(() => {});
        }
      }
    };
    void loop();
    return () => {
      stopped = true;
      clearTimeout(retry);
      settle.current?.(null);
    };
  }, [session, now]);

  const answer = useCallback((allow: boolean) => settle.current?.(allow), []);
  return { question, answer };
}
