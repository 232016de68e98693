import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '../clock.js';

/**
 * Collects garbage when the agent goes quiet. A vault write serializes and encrypts the whole
 * vault (megabytes of short-lived strings and buffers at 10k secrets); an idle agent never
 * triggers a major GC by itself, so that garbage stayed resident (+40 MiB RSS after a few
 * writes). Collecting only after IDLE_MS without requests keeps the pause off the hot path.
 * After a lock it also makes the dropped plaintext unreachable memory sooner rather than later.
 */
const IDLE_MS = 2000;

type Gc = () => void;
let gc: Gc | null | undefined;

function loadGc(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    // The documented --expose-gc flag, set at run time so the daemon needs no node options.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  } catch {
    gc = null;
  }
  return gc;
}

export class IdleGc {
  private timer: unknown = null;
  private lastActivity = 0;
  private pending = false;

  /** `collect`: what runs once quiet (V8's gc; a test counts instead). */
  constructor(
    private readonly clock: Clock,
    private readonly collect: () => void = () => loadGc()?.(),
  ) {}

  /** Something allocated a lot (a write, an unlock, a lock): collect once things are quiet. */
  request(): void {
    this.pending = true;
    this.arm();
  }

  /** Any request (at `now`, the clock's): pushes a pending collection back. */
  activity(now: number): void {
    if (this.pending) this.lastActivity = now;
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = false;
  }

  private arm(): void {
    if (this.timer !== null) return;
    this.lastActivity = this.clock.now();
    this.timer = this.clock.setTimeout(() => this.fire(), IDLE_MS);
  }

  private fire(): void {
    this.timer = null;
    const quietFor = this.clock.now() - this.lastActivity;
    if (quietFor < IDLE_MS) {
      this.timer = this.clock.setTimeout(() => this.fire(), IDLE_MS - quietFor);
      return;
    }
    this.pending = false;
    this.collect();
  }
}
