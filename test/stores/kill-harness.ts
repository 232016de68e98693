/**
 * The crash tests' harness: a writer child prints `ready N` once it has opened its store,
 * then each value once its write resolved (durable); it is SIGKILLed at a random moment.
 */
import { spawn } from 'node:child_process';
import { build } from 'esbuild';

/**
 * Bundles a writer once, so the child runs plain JS with no loader. The banner gives
 * CommonJS dependencies (yaml) the `require` an ESM bundle lacks, as scripts/build.mjs does.
 */
export async function bundleWriter(entry: string, outfile: string): Promise<void> {
  const banner = "import { createRequire as __testCreateRequire } from 'node:module'; const require = __testCreateRequire(import.meta.url);";
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'silent', banner: { js: banner } });
}

export interface Run {
  ready: number | null;
  lastAck: number | null;
  stderr: string;
}

/** For a program that reports nothing (a built binary): where it runs, and the kill timed from its start. */
export interface KillOptions {
  env?: Record<string, string>;
  /** Count `delayMs` from the spawn, not from a `ready` line. */
  fromStart?: boolean;
}

/**
 * Starts the writer, lets it run for `delayMs` after it reported ready (or, with
 * `afterFirstAck`, after its first acknowledged write; or, with `fromStart`, after it was
 * started), then SIGKILLs it.
 */
export function runAndKill(script: string, args: string[], input: string, delayMs: number, afterFirstAck: boolean, opts: KillOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    if (opts.fromStart) setTimeout(() => child.kill('SIGKILL'), delayMs);
    const result: Run = { ready: null, lastAck: null, stderr: '' };
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const arm = line.startsWith('ready ') ? !afterFirstAck : afterFirstAck && result.lastAck === null;
        if (line.startsWith('ready ')) result.ready = Number(line.slice(6));
        else result.lastAck = Number(line);
        if (arm) setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (result.stderr += d.toString()));
    // A writer that never gets ready must not hang the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(guard);
      resolve(result);
    });
    child.stdin.end(input);
  });
}

