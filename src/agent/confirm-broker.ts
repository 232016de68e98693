import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/codes.js';
import { lockedError, SigilError } from '../protocol/errors.js';
import type { ConfirmPrompt } from '../protocol/results.js';
import type { AuditEvent } from './audit-log.js';
import { actingProcess, chainPrograms, viaClients, type Caller } from './caller/caller.js';
import { confirmProgram } from '../util/program-chain.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * `confirm = true` (a `[[policy]]` rule): before a value is handed out, the person says yes or
 * no, as `ssh-add -c` makes ssh-agent ask for each signature. An open `sigil tui` is asked (it
 * long-polls `wait_confirm` and answers with `answer_confirm`); with none open, the program in
 * the agent's SIGIL_ASKPASS is run with SIGIL_ASKPASS_PROMPT=confirm (OpenSSH's
 * SSH_ASKPASS_PROMPT convention) and, as OpenSSH reads it, exit 0 with an empty answer or
 * "yes" means allowed. With neither, the use is refused: never allowed by default.
 *
 * One question is on screen at a time; requests for the same target from the same process
 * while it is asked share its answer (a script asking ten times at once gets one question).
 */

/** Under the client library's 30 s request timeout, so the client hears why. */
export const CONFIRM_TIMEOUT_MS = 25_000;

export interface ConfirmRequest {
  /** "github/work", "secret://db/prod". */
  target: string;
  op: string;
  caller: Caller;
  client: string | undefined;
}

export interface ConfirmBrokerOptions {
  /** SIGIL_ASKPASS as the agent was started with, if any. */
  askpass?: string | undefined;
  timeoutMs?: number;
  audit(event: AuditEvent): void;
  log(msg: string): void;
}

interface Question {
  prompt: ConfirmPrompt;
  key: string;
  caller: Caller;
  requesters: number;
  settle: (err: SigilError | null) => void;
  done: Promise<void>;
  timer?: NodeJS.Timeout;
  askpass?: ChildProcess;
  /** TUI connections shown this question and still open. */
  viewers: number;
  /** The connections (by their closed promise) shown this question. */
  shownTo: Set<Promise<void>>;
  via?: 'tui' | 'askpass';
}

interface Waiter {
  deliver(prompt: ConfirmPrompt): void;
  /** The TUI's connection closed. */
  closed: Promise<void>;
}

export class ConfirmBroker {
  private readonly queue: Question[] = [];
  private current: Question | null = null;
  private readonly waiters = new Set<Waiter>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: ConfirmBrokerOptions) {
    this.timeoutMs = opts.timeoutMs ?? CONFIRM_TIMEOUT_MS;
  }

  /** Resolves when the person allows this use; FORBIDDEN when they refuse, time runs out or nobody can be asked. */
  ask(req: ConfirmRequest, requesterClosed: Promise<void>): Promise<void> {
    const key = `${req.caller.peer?.pid ?? '?'}\0${req.target}`;
    let q = this.current?.key === key ? this.current : this.queue.find((x) => x.key === key);
    if (!q) {
      q = this.newQuestion(req, key);
      this.queue.push(q);
    }
    const question = q;
    question.requesters++;
    void requesterClosed.then(() => {
      // Nobody is waiting for the answer any more: stop asking.
      if (--question.requesters === 0) this.finish(question, new SigilError(ErrorCode.FORBIDDEN, 'the client went away before the use was confirmed'), 'cancelled');
    });
    this.pump();
    return question.done;
  }

  /**
   * `wait_confirm`: the next question for a TUI, or the one other TUIs are showing now if this
   * one has not seen it (a TUI opened mid-question). `closed` stands for the TUI's connection:
   * it resolves when the TUI can send no answer any more.
   */
  waitForPrompt(closed: Promise<void>): Promise<ConfirmPrompt> {
    const q = this.current;
    if (q?.via === 'tui' && !q.shownTo.has(closed)) {
      this.watchViewer(q, closed);
      return Promise.resolve(q.prompt);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        deliver: (prompt) => {
          this.waiters.delete(waiter);
          resolve(prompt);
        },
        closed,
      };
      // A question already handed to SIGIL_ASKPASS stays there: this TUI gets the next one.
      this.waiters.add(waiter);
      void closed.then(() => {
        // Settled, so a half-closed connection is not held open by a wait that cannot end.
        if (this.waiters.delete(waiter)) reject(new SigilError(ErrorCode.BAD_REQUEST, 'wait_confirm ended: the client closed its side'));
      });
    });
  }

  /** `answer_confirm`: false when the question is no longer asked (answered, timed out, withdrawn). */
  answer(confirmId: string, allow: boolean): boolean {
    const q = this.current;
    if (!q || q.prompt.confirm_id !== confirmId || q.via !== 'tui') return false;
    this.finish(q, allow ? null : new SigilError(ErrorCode.FORBIDDEN, `use of ${q.prompt.target} was refused in sigil tui`), allow ? 'ok' : 'FORBIDDEN');
    return true;
  }

  /** Locking withdraws every question: nothing can be handed out any more. */
  cancelAll(): void {
    for (const q of [...(this.current ? [this.current] : []), ...this.queue]) {
      this.finish(q, lockedError(), 'LOCKED');
    }
  }

  private newQuestion(req: ConfirmRequest, key: string): Question {
    let settle!: (err: SigilError | null) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    // Every requester awaits `done`; a refusal nobody awaits any more must not be "unhandled".
    done.catch(() => {});
    const prompt: ConfirmPrompt = {
      confirm_id: randomBytes(16).toString('hex'),
      target: req.target,
      op: req.op,
      client: req.client ?? null,
      pid: req.caller.peer?.pid ?? null,
      exe: req.caller.peer?.exe ?? null,
      program: actingProcess(req.caller)?.program ?? null,
      via: viaClients(req.caller),
      chain: chainPrograms(req.caller),
      ...(req.caller.forwarded ? { forwarded: req.caller.forwarded.host } : {}),
      timeout_s: Math.round(this.timeoutMs / 1000),
    };
    return { prompt, key, caller: req.caller, requesters: 0, settle, done, viewers: 0, shownTo: new Set() };
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    const q = this.queue.shift()!;
    this.current = q;
    q.timer = setTimeout(() => this.finish(q, new SigilError(ErrorCode.FORBIDDEN, `use of ${q.prompt.target} was not confirmed within ${q.prompt.timeout_s} s`), 'timeout'), this.timeoutMs);
    if (this.waiters.size > 0) {
      q.via = 'tui';
      for (const w of [...this.waiters]) {
        this.watchViewer(q, w.closed);
        w.deliver(q.prompt);
      }
    } else if (this.opts.askpass) {
      q.via = 'askpass';
      this.runAskpass(q, this.opts.askpass);
    } else {
      this.finish(
        q,
        new SigilError(
          ErrorCode.FORBIDDEN,
          `use of ${q.prompt.target} needs confirmation (${q.prompt.forwarded !== undefined ? 'a use from another machine, unless its [[policy]] rule says confirm = false' : 'confirm = true in config.toml'}), but nobody can be asked: no sigil tui is open and the agent was started without SIGIL_ASKPASS`,
        ),
        'no-prompt',
      );
    }
  }

  private watchViewer(q: Question, closed: Promise<void>): void {
    q.shownTo.add(closed);
    q.viewers++;
    void closed.then(() => {
      if (--q.viewers === 0 && this.current === q && q.via === 'tui') {
        this.finish(q, new SigilError(ErrorCode.FORBIDDEN, `sigil tui closed without answering whether ${q.prompt.target} may be used`), 'FORBIDDEN');
      }
    });
  }

  private runAskpass(q: Question, program: string): void {
    const where = q.prompt.forwarded !== undefined ? ` on ${q.prompt.forwarded} (forwarded over ssh)` : '';
    const text = `Allow ${confirmWho(q.prompt)}${where} to use ${q.prompt.target}?`;
    q.askpass = execFile(
      program,
      [text],
      { env: { ...process.env, SIGIL_ASKPASS_PROMPT: 'confirm' }, timeout: this.timeoutMs, maxBuffer: 4096 },
      (err, stdout) => {
        if (this.current !== q) return;
        const answer = String(stdout).trim().toLowerCase();
        if (!err && (answer === '' || answer === 'yes')) return this.finish(q, null, 'ok');
        const why = err && (err as NodeJS.ErrnoException).code === 'ENOENT' ? ` (SIGIL_ASKPASS program ${program} was not found)` : '';
        if (why) this.opts.log(`confirm: cannot run SIGIL_ASKPASS ${program}`);
        this.finish(q, new SigilError(ErrorCode.FORBIDDEN, `use of ${q.prompt.target} was refused${why}`), 'FORBIDDEN');
      },
    );
  }

  private finish(q: Question, err: SigilError | null, result: string): void {
    const wasCurrent = this.current === q;
    if (!wasCurrent) {
      const i = this.queue.indexOf(q);
      if (i < 0) return; // already settled
      this.queue.splice(i, 1);
    } else {
      this.current = null;
    }
    clearTimeout(q.timer);
    if (q.askpass && q.askpass.exitCode === null) q.askpass.kill('SIGTERM');
    // The question itself, not the op (whose own audit line follows): who was asked, how, and what they said.
    if (wasCurrent) this.opts.audit({ op: 'confirm', target: `${q.prompt.target}${q.via ? ` via ${q.via}` : ''}`, result, caller: q.caller, client: q.prompt.client ?? undefined });
    q.settle(err);
    this.pump();
  }
}

/** Who asks, in SIGIL_ASKPASS's question: "sigil-token (pid 4242), /usr/bin/git (via git-credential-sigil),". */
function confirmWho(prompt: ConfirmPrompt): string {
  const who = prompt.client ? `${prompt.client} (pid ${prompt.pid ?? '?'})` : prompt.pid !== null ? `pid ${prompt.pid}` : 'a client';
  const program = confirmProgram(prompt);
  return program ? `${who}, ${terminalText(program, { max: 200 })},` : who;
}
