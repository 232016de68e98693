import { spawn } from 'node:child_process';

/**
 * Opens a URL the way the desktop expects: $BROWSER first (a colon-separated list, "%s"
 * standing for the URL, as xdg-utils and Python's webbrowser read it), then the platform's
 * opener. Returns false when nothing could be started, so the caller prints the URL.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const candidates: string[][] = [];
  for (const entry of (env.BROWSER ?? '').split(':').filter(Boolean)) {
    const words = entry.split(/\s+/).filter(Boolean);
    candidates.push(words.some((w) => w.includes('%s')) ? words.map((w) => w.replace('%s', url)) : [...words, url]);
  }
  if (process.platform === 'darwin') candidates.push(['open', url]);
  else if (process.platform === 'win32') candidates.push(['rundll32', 'url.dll,FileProtocolHandler', url]);
  else candidates.push(['xdg-open', url]);
  return tryEach(candidates);
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
export function hasDisplay(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SSH_CONNECTION || env.SSH_TTY) return false;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
