import { describe, expect, it } from 'vitest';
import { clipboardSequence, hyperlink, printableUrl, supportsHyperlinks } from '../../src/tui/terminal-links.js';

describe('URLs for the terminal', () => {
  it('percent-encodes what is not printable ASCII, so a provider URL cannot carry a control sequence', () => {
    expect(printableUrl('https://p.example/device?x=\x1b]0;owned\x07&y=é ')).toBe('https://p.example/device?x=%1B]0;owned%07&y=%C3%A9%20');
    expect(printableUrl('https://p.example/a?b=c&d=%20')).toBe('https://p.example/a?b=c&d=%20');
  });

  it('writes OSC 8 BEL-terminated (the form ink measures as its text only) and OSC 52 with the exact base64', () => {
    expect(hyperlink('https://x.example/')).toBe('\x1b]8;;https://x.example/\x07https://x.example/\x1b]8;;\x07');
    expect(clipboardSequence('https://x.example/?a=1')).toBe(`\x1b]52;c;${Buffer.from('https://x.example/?a=1').toString('base64')}\x07`);
  });

  it('uses hyperlinks only where the terminal says it has them', () => {
    expect(supportsHyperlinks({ TERM: 'xterm-kitty' })).toBe(true);
    expect(supportsHyperlinks({ TERM: 'xterm-256color', VTE_VERSION: '7600' })).toBe(true);
    expect(supportsHyperlinks({ TERM: 'xterm-256color', TERM_PROGRAM: 'WezTerm' })).toBe(true);
    expect(supportsHyperlinks({ TERM: 'tmux-256color', TMUX: '/tmp/tmux-1000/default,1,0' })).toBe(true);
    expect(supportsHyperlinks({ TERM: 'xterm-256color' })).toBe(false);
    expect(supportsHyperlinks({ TERM: 'xterm-256color', VTE_VERSION: '4800' })).toBe(false);
    expect(supportsHyperlinks({ TERM: 'linux', TMUX: 'x' })).toBe(false);
    expect(supportsHyperlinks({})).toBe(false);
  });
});
