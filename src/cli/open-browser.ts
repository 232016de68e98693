import { spawn } from 'node:child_process';
import type { FlowKind } from '../protocol/results.js';

/**
 * What a sign-in on this machine can do with a browser: the one answer `sigil accounts add`
 * and the TUI both act on, so they pick the same flow and open the same browser.
 */
export interface BrowserSupport {
  /** The flow to use when the person did not choose one: the browser flow only where its
   *  redirect to this machine's loopback can come back (a graphical session, not SSH). */
  preferred: FlowKind;
  /** openBrowser() has something to start: $BROWSER (the person's own choice, honoured also
   *  without a display, e.g. a script that forwards the URL, or wslview), or the desktop's
   *  opener in a graphical session. */
  canLaunch: boolean;
}

export function browserSupport(env: NodeJS.ProcessEnv = process.env): BrowserSupport {
  return { preferred: hasDisplay(env) ? 'auth_code' : 'device', canLaunch: browserCommands('', env).length > 0 };
}

/**
 * Opens a URL the way the desktop expects: $BROWSER first (a colon-separated list, "%s"
 * standing for the URL, as xdg-utils and Python's webbrowser read it), then, in a graphical
 * session, the platform's opener. Returns false when nothing could be started, so the caller
 * prints the URL.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return tryEach(browserCommands(url, env));
}

function browserCommands(url: string, env: NodeJS.ProcessEnv): string[][] {
  const candidates: string[][] = [];
  for (const entry of (env.BROWSER ?? '').split(':').filter(Boolean)) {
    const words = entry.split(/\s+/).filter(Boolean);
    if (words.length) candidates.push(words.some((w) => w.includes('%s')) ? words.map((w) => w.replace('%s', url)) : [...words, url]);
  }
  // Without a display xdg-open would start a text browser with no terminal, or nothing.
  if (!hasDisplay(env)) return candidates;
  if (process.platform === 'darwin') candidates.push(['open', url]);
  else if (process.platform === 'win32') candidates.push(['rundll32', 'url.dll,FileProtocolHandler', url]);
  else candidates.push(['xdg-open', url]);
  return candidates;
}

async function tryEach(candidates: string[][]): Promise<boolean> {
  for (const [cmd, ...args] of candidates) {
    const started = await new Promise<boolean>((resolve) => {
      const child = spawn(cmd!, args, { detached: true, stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    });
    if (started) return true;
  }
  return false;
}

/** No graphical session here (a console, or SSH): a browser would open somewhere else or nowhere. */
function hasDisplay(env: NodeJS.ProcessEnv): boolean {
  if (env.SSH_CONNECTION || env.SSH_TTY) return false;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
