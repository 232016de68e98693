import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { terminalText } from '../../util/terminal-text.js';
import { leaveDirect } from '../direct-mode.js';
import { parseDotenv } from '../dotenv.js';
import { looksLikeRef, resolveRefs, type RefUse } from '../resolve-refs.js';
import { MaskingStream, SecretMasker } from '../secret-masker.js';

/** Forwarded to the child while it runs; sigil run itself waits for the child's exit. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface RunOptions {
  envFile?: string[];
  masking?: boolean;
}

/**
 * `sigil run [--env-file FILE]... [--no-masking] -- CMD ARGS…`, as `op run` does: every
 * environment value that is a reference (after the env files are applied) is resolved
 * through the agent just before the child starts, and the child gets the values — in its
 * environment only, never on a command line. Its stdout and stderr go through a masker
 * unless --no-masking. Ends the process with the child's status (128+N for signal N).
 */
export async function run(argv: string[], opts: RunOptions): Promise<never> {
  const [command, ...args] = argv;
  if (!command) throw new SigilError(ErrorCode.BAD_REQUEST, 'missing the command to run: sigil run [options] -- <command> [args...]');

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // Later files win over earlier ones, and files over the inherited environment.
  for (const file of opts.envFile ?? []) for (const [k, v] of parseDotenv(readEnvFile(file), file)) env[k] = v;

  const uses: RefUse[] = [];
  const names: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const ref = value.trim();
    if (!looksLikeRef(ref)) continue;
    uses.push({ ref, where: terminalText(name) });
    names.push(name);
  }
  const values = await resolveRefs(uses);
  const secrets: string[] = [];
  uses.forEach((use, n) => {
    const value = values.get(use.ref)!;
    // Node hands the environment to the child as UTF-8 strings: bytes that are not text
    // cannot pass unchanged, and a changed secret is worse than none.
    if (typeof value !== 'string') {
      throw new SigilError(ErrorCode.BAD_REQUEST, `${use.where}: the value of ${use.ref} is binary (not UTF-8 text) and cannot go in an environment variable; write it to a file with sigil inject`);
    }
    if (value.includes('\0')) {
      throw new SigilError(ErrorCode.BAD_REQUEST, `${use.where}: the value of ${use.ref} holds a NUL byte and cannot go in an environment variable`);
    }
    env[names[n]!] = value;
    secrets.push(value);
  });

  // With --direct: the vault is locked again before the command starts, not held while it runs.
  await leaveDirect();
  const masked = opts.masking !== false && new SecretMasker(secrets).active;
  const status = await runChild(command, args, env, masked ? secrets : null);
  process.exit(status);
}

function readEnvFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new SigilError(code === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.BAD_REQUEST, `cannot read env file ${file}: ${why}`);
  }
}

/** Starts the child, forwards signals, pipes its output through the masker; resolves to the exit status. */
export async function runChild(command: string, args: string[], env: Record<string, string>, secrets: string[] | null): Promise<number> {
  const child = spawn(command, args, { env, stdio: secrets ? ['inherit', 'pipe', 'pipe'] : 'inherit' });
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
  const started = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (err) => resolve(err));
  });
  if (started) {
    // As a shell says it: 127 when there is no such command, 126 when it cannot be run.
    process.stderr.write(`sigil: ${command}: ${started.code === 'ENOENT' ? 'command not found' : started.code === 'EACCES' ? 'permission denied' : started.message}\n`);
    return started.code === 'ENOENT' ? 127 : 126;
  }

  const forward = (signal: NodeJS.Signals) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    // A masker holds per-stream state: stdout and stderr get one each.
    const outputs = secrets ? [pipeMasked(child.stdout!, process.stdout, secrets), pipeMasked(child.stderr!, process.stderr, secrets)] : [];
    const status = await exited;
    await Promise.all(outputs);
    return status;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}

/**
 * Copies one output of the child to ours through a masker; resolves when all of it has
 * been written. When our side closes (`sigil run … | head -1`), the child's pipe is
 * closed too, so the child meets EPIPE/SIGPIPE as it would with no sigil in between.
 */
function pipeMasked(from: Readable, to: Writable, secrets: string[]): Promise<void> {
  const stream = new MaskingStream(new SecretMasker(secrets));
  return new Promise((resolve) => {
    const stop = () => {
      from.destroy();
      stream.destroy();
    };
    to.on('error', stop);
    stream.once('close', () => {
      to.off('error', stop);
      resolve();
    });
    stream.once('end', () => {
      // Everything has been handed to `to`; wait until it has gone out.
      if (to.writableNeedDrain) to.once('drain', () => stream.destroy());
      else stream.destroy();
    });
    from.pipe(stream).pipe(to, { end: false });
  });
}
