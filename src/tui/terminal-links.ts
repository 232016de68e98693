/**
 * URLs in a terminal: printable, as OSC 8 hyperlinks where the terminal shows them, and copied
 * to the clipboard with OSC 52 (the terminal sets it, so this works over SSH too).
 */

/** A URL as the terminal gets it: anything outside printable ASCII percent-encoded, so a
 *  provider's URL cannot carry a control sequence, and its width is its length. */
export function printableUrl(url: string): string {
  return url.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/**
 * OSC 8 around text. BEL-terminated (not ESC \): ink's tokenizer reads a link only in that
 * form, so it measures just the text and keeps the link on every cell of it.
 */
export function hyperlink(url: string, text: string = url): string {
  return `\x1b]8;;${url}\x07${text}\x1b]8;;\x07`;
}

/** OSC 52: "set the clipboard (c) to this base64". */
export function clipboardSequence(text: string): string {
  return `\x1b]52;c;${Buffer.from(text, 'utf8').toString('base64')}\x07`;
}

/**
 * Whether the terminal shows OSC 8 links, from what it says about itself. Where unsure, no:
 * a terminal that does not know OSC 8 usually ignores it, but the Linux console and a few
 * others print it.
 */
export function supportsHyperlinks(env: NodeJS.ProcessEnv = process.env): boolean {
  const term = env.TERM ?? '';
  if (term === '' || term === 'dumb' || term === 'linux') return false;
  // tmux 3.4 and later pass links on to the terminal outside; older ones drop them unseen.
  if (env.TMUX) return true;
  if (/^(iTerm\.app|WezTerm|vscode|ghostty|Hyper|Tabby)$/.test(env.TERM_PROGRAM ?? '')) return true;
  if (Number(env.VTE_VERSION) >= 5000 || env.WT_SESSION || env.KONSOLE_VERSION) return true;
  return /kitty|alacritty|foot|wezterm|ghostty/.test(term);
}
