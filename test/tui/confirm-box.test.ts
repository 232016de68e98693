import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { ConfirmUseBox } from '../../src/tui/components/ConfirmUseBox.js';
import type { ConfirmQuestion } from '../../src/tui/hooks/use-confirm-requests.js';

/** The question box says when the caller is on another machine (it came over ssh -R). */
describe('ConfirmUseBox', () => {
  const question: ConfirmQuestion = {
    confirm_id: 'c1',
    target: 'github/ci',
    op: 'get_token',
    client: 'sigil-token',
    pid: 4242,
    exe: '/usr/bin/ssh',
    program: '/usr/bin/ssh',
    via: ['sigil-token'],
    chain: ['sigil-token', '/usr/bin/ssh'],
    timeout_s: 25,
    receivedAt: 0,
  };
  const frame = (q: ConfirmQuestion) => {
    const inst = render(createElement(ConfirmUseBox, { question: q, nowMs: 0, width: 100 }));
    const text = inst.lastFrame() ?? '';
    inst.unmount();
    return text;
  };

  it('names the host of a forwarded caller, and says nothing of it for a local one', () => {
    expect(frame({ ...question, forwarded: 'build1' })).toContain('from another machine: build1 (forwarded over ssh)');
    expect(frame(question)).not.toContain('another machine');
  });
});
