import { writeSync } from 'node:fs';
import { render, type Instance } from 'ink';
import { createElement, type ReactElement } from 'react';
import { browserSupport, openBrowser } from '../cli/open-browser.js';
import { AgentClient } from '../client/agent-client.js';
import { EXIT_CODES } from '../protocol/codes.js';
import { AgentSession } from './agent-session.js';
import { App } from './app.js';
import { DEFAULT_POLL, type TuiDeps } from './deps.js';
import { supportsHyperlinks } from './terminal-links.js';

/**
 * The entry of `sigil tui` (bundled into dist/tui/tui.mjs): switch to the alternate screen,
 * render, and on every way out — q, Ctrl-C, SIGTERM, SIGHUP, SIGINT, an exception in a render
 * or a timer — unmount ink first (its last frame clears what it drew), then show the cursor
 * and leave the alternate screen with a synchronous write, then exit.
 */

/** Alternate screen on, cursor home. */
const ENTER_SCREEN = '\x1b[?1049h\x1b[H';
/** Cursor visible, alternate screen off: the shell's screen comes back as it was. */
const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';
/** 128 + signal number, as shells report a death by signal. */
const SIGNAL_EXIT: [NodeJS.Signals, number][] = [
  ['SIGTERM', 143],
  ['SIGHUP', 129],
  ['SIGINT', 130],
];
/** Key-to-frame latency: ink throttles frames to maxFps (default 30, i.e. up to 33 ms late). */
const MAX_FPS = 60;

export interface RunTuiOptions {
  socketPath?: string;
}

export function runTui(opts: RunTuiOptions = {}): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    // Thrown errors would cross into the CLI's own copy of SigilError: say it here.
    process.stderr.write('sigil: sigil tui needs a terminal (stdin and stdout must be a TTY)\n');
    process.exit(EXIT_CODES.BAD_REQUEST);
  }
  const session = new AgentSession(() => AgentClient.connect({ clientName: 'sigil-tui', ...(opts.socketPath ? { socketPath: opts.socketPath } : {}) }));
  const deps: TuiDeps = {
    session,
    openUrl: (url) => openBrowser(url),
    browser: () => browserSupport(),
    hyperlinks: supportsHyperlinks(),
    now: Date.now,
    poll: DEFAULT_POLL,
  };
  return runFullScreen((quit) => createElement(App, { deps, onQuit: quit }), { onLeave: () => session.close() });
}

/**
 * Runs a React tree full screen until something ends it; the promise never resolves, as every
 * way out exits the process through leave(). Exported for the exit-path tests.
 */
export function runFullScreen(build: (quit: () => void) => ReactElement, opts: { onLeave?: () => void } = {}): Promise<void> {
  const stdout = process.stdout;
  let instance: Instance | null = null;
  let restored = false;

  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      instance?.unmount();
    } catch {
      // A broken tree must not keep the terminal in the alternate screen.
    }
    try {
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
    } catch {
      // stdin already closed (SIGHUP)
    }
    try {
      writeSync(stdout.fd, LEAVE_SCREEN);
    } catch {
      // the terminal is gone (SIGHUP): nothing to restore
    }
  };

  const leave = (code: number, err?: unknown): never => {
    restore();
    try {
      opts.onLeave?.();
    } catch {
      // closing the agent connection cannot fail in a way worth reporting now
    }
    if (err !== undefined) {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      try {
        writeSync(process.stderr.fd, `sigil tui: ${text}\n`);
      } catch {
        // no terminal left to tell
      }
    }
    process.exit(code);
  };

  for (const [signal, code] of SIGNAL_EXIT) process.on(signal, () => leave(code));
  process.on('uncaughtException', (err) => leave(1, err));
  process.on('unhandledRejection', (err) => leave(1, err));
  process.on('exit', restore);

  writeSync(stdout.fd, ENTER_SCREEN);
  // Raw mode before the first frame, not when ink's input hook attaches after it: a Ctrl-C
  // typed in between would otherwise be a SIGINT (exit 130) instead of a key (quit, exit 0).
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  try {
    instance = render(build(() => leave(0)), { exitOnCtrlC: false, patchConsole: true, maxFps: MAX_FPS });
  } catch (err) {
    leave(1, err);
  }
  // ink's error boundary ends the app on an exception during render: that rejects here.
  instance!.waitUntilExit().then(
    () => leave(0),
    (err: unknown) => leave(1, err),
  );
  return new Promise<void>(() => {});
}
