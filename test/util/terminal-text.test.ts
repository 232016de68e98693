import { expect, it } from 'vitest';
import { terminalText } from '../../src/util/terminal-text.js';

it('shows C0, DEL and C1 control characters as visible \\xNN escapes', () => {
  expect(terminalText('\x1b]0;pwned\x07\n{fake}')).toBe('\\x1b]0;pwned\\x07\\x0a{fake}');
  expect(terminalText('a\x00b\x7fc\x9bd\x85e\tf\rg')).toBe('a\\x00b\\x7fc\\x9bd\\x85e\\x09f\\x0dg');
  // Printable text, other Unicode included, is left alone; a backslash too.
  expect(terminalText('github/work ✓ ünïcode \\x1b')).toBe('github/work ✓ ünïcode \\x1b');
});

it('keeps newlines of a multi-line message when asked, and only them', () => {
  expect(terminalText('2 references:\n  a\x1b[2J\r', { lines: true })).toBe('2 references:\n  a\\x1b[2J\\x0d');
});

it('cuts long text before escaping it, and is idempotent', () => {
  expect(terminalText('abcdef', { max: 3 })).toBe('abc…');
  const once = terminalText('x\x1by\n');
  expect(terminalText(once)).toBe(once);
});
