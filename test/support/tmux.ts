import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * A real terminal for tests: one pane in a private tmux server (its own -L socket name, so
 * tests never touch a person's tmux and kill() ends everything it started).
 */
export class TmuxPane {
  private readonly server = `sigil-test-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.server, ...args], { encoding: 'utf8' });
  }

  /** Starts `command` (run by the server's shell) in a detached pane of cols × rows. */
  start(command: string, cols = 120, rows = 30, historyLimit = 2000): void {
    // history-limit applies to panes created after it is set: one command sequence does both.
    this.tmux('-f', '/dev/null', 'start-server', ';', 'set-option', '-g', 'history-limit', String(historyLimit), ';', 'new-session', '-d', '-s', 't', '-x', String(cols), '-y', String(rows), command);
  }

  /** The visible screen. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 't');
  }

  /** Everything the pane printed, scrollback included, wrapped lines joined. */
  history(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-E', '-', '-t', 't');
  }

  flag(name: string): string {
    return this.tmux('display', '-p', '-t', 't', `#{${name}}`).trim();
  }

  /** Waits until the visible screen matches; the error shows the screen. */
  async waitScreen(what: RegExp, timeoutMs = 8000): Promise<string> {
    return this.waitFor(() => this.screen(), what, timeoutMs);
  }

  async waitHistory(what: RegExp, timeoutMs = 8000): Promise<string> {
    return this.waitFor(() => this.history(), what, timeoutMs);
  }

  private async waitFor(read: () => string, what: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = read();
      if (what.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`no ${what} in the pane within ${timeoutMs} ms; the pane:\n${text}`);
      await sleep(30);
    }
  }

  /** Types text literally (no key names). */
  type(text: string): void {
    this.tmux('send-keys', '-t', 't', '-l', text);
  }

  /** Sends key names (Enter, C-c, q…). */
  keys(...names: string[]): void {
    this.tmux('send-keys', '-t', 't', ...names);
  }

  /**
   * Sends keys until the screen shows what they lead to: a key typed before ink's handler for
   * the new screen is attached is lost, so only keys that are safe to repeat go through here.
   */
  async keysUntil(keys: string[], next: RegExp): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.keys(...keys);
      try {
        await this.waitScreen(next, 1500);
        return;
      } catch (err) {
        if (attempt === 4) throw err;
      }
    }
  }

  /** Types a command line into the pane's shell and presses Enter. */
  shell(line: string): void {
    this.type(line);
    this.keys('Enter');
  }

  /** The pid of the one program the pane's shell is running now. */
  foregroundPid(): number {
    const shellPid = this.flag('pane_pid');
    const children = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length !== 1) throw new Error(`expected one child of the shell, got ${children.join(' ') || 'none'}`);
    return Number(children[0]);
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Single-quotes a value for a POSIX shell. */
export const shQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
