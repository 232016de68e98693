import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { stringArg } from '../../protocol/messages.js';
import type { OpHandlers } from '../op-table.js';

/**
 * The TUI's side of `confirm = true`: it long-polls `wait_confirm` for the next question and
 * answers it. Neither needs the unlocked store (the TUI waits through locks), neither is
 * audited here: the broker writes one line per question with its outcome.
 */
export const confirmOps = {
  wait_confirm: {
    async run({ state, inputEnded }) {
      return { ...(await state.confirmations.waitForPrompt(inputEnded)) };
    },
  },

  answer_confirm: {
    run({ state }, args) {
      const id = stringArg(args, 'confirm_id');
      if (typeof args.allow !== 'boolean') throw new SigilError(ErrorCode.BAD_REQUEST, 'argument "allow" must be true or false');
      if (!state.confirmations.answer(id, args.allow)) {
        throw new SigilError(ErrorCode.NOT_FOUND, 'that question is no longer asked (answered elsewhere, timed out, or withdrawn)');
      }
      return { answered: true };
    },
  },
} satisfies OpHandlers;
