/**
 * Text Sigilforge did not write itself (audit lines, names and messages from the agent or a
 * config file, a peer's executable path) made safe to print on a terminal: every control
 * character — C0, DEL and C1, which terminals act on (ESC starts a sequence that can retitle
 * the window or move the cursor, CSI is C1 0x9b, a newline forges a line) — is shown as a
 * visible `\xNN` escape instead. Printable text, including other Unicode, is left alone.
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const CONTROL_BUT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

function escape(c: string): string {
  return '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0');
}

export interface TerminalTextOptions {
  /** Keep "\n" (a multi-line message); every other control character is still escaped. */
  lines?: boolean;
  /** Cut to this many characters (before escaping), marking the cut with "…". */
  max?: number;
}

export function terminalText(text: string, opts: TerminalTextOptions = {}): string {
  const cut = opts.max !== undefined && text.length > opts.max ? text.slice(0, opts.max) + '…' : text;
  return cut.replace(opts.lines ? CONTROL_BUT_NEWLINE : CONTROL, escape);
}
