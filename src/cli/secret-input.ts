import { isUtf8 } from 'node:buffer';
import { execFile } from 'node:child_process';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { hasTty, promptHidden } from './tty-prompt.js';

/**
 * Where secret values come from — never argv or the environment (they leak through ps,
 * /proc/PID/environ and shell history): stdin when asked for, else a prompt on the
 * terminal, else the SIGIL_ASKPASS program (the SSH_ASKPASS convention).
 */
export interface InputSource {
  /** --stdin / --passphrase-stdin was given. */
  stdin: boolean;
  /** Take one line of stdin per value (for commands that read several, like passwd). */
  line?: boolean;
}

/** Largest value read from stdin; a secret bigger than this is a mistake (a file piped in). */
const MAX_STDIN = 512 * 1024;

export async function readSecret(prompt: string, src: InputSource): Promise<Buffer> {
  let value: Buffer;
  if (src.stdin) value = src.line ? await readStdinLine() : await readStdin();
  else if (process.env.SIGIL_ASKPASS && (process.env.SIGIL_ASKPASS_REQUIRE === 'force' || !hasTty())) value = await askpass(process.env.SIGIL_ASKPASS, prompt);
  else if (hasTty()) value = await promptHidden(prompt);
  else {
    throw new SigilError(ErrorCode.BAD_REQUEST, 'no terminal to ask on: pipe the value in with --stdin (or --passphrase-stdin), or set SIGIL_ASKPASS');
  }
  if (value.length === 0) throw new SigilError(ErrorCode.BAD_REQUEST, 'the value is empty');
  return value;
}

/** Asks twice on a terminal (a typo in a new passphrase would lock the person out). */
export async function readNewSecret(prompt: string, src: InputSource): Promise<Buffer> {
  const first = await readSecret(prompt, src);
  if (src.stdin || !hasTty()) return first;
  const second = await readSecret('Again: ', src);
  const same = first.equals(second);
  second.fill(0);
  if (!same) {
    first.fill(0);
    throw new SigilError(ErrorCode.BAD_REQUEST, 'the two entries differ; nothing was changed');
  }
  return first;
}

let stdinLeft: Buffer | null = null;

async function slurpStdin(): Promise<Buffer> {
  if (stdinLeft) return stdinLeft;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).length;
    if (total > MAX_STDIN) throw new SigilError(ErrorCode.BAD_REQUEST, 'stdin holds more than 512 KiB; that is not a secret value');
    chunks.push(chunk as Buffer);
  }
  stdinLeft = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return stdinLeft;
}

/**
 * All of stdin as bytes. Text loses one trailing newline, so `echo secret |` and
 * `printf %s secret |` agree; input that is not UTF-8 text (a key file) is taken byte for
 * byte, since a last 0x0a there is part of the value.
 */
async function readStdin(): Promise<Buffer> {
  const all = await slurpStdin();
  let end = all.length;
  if (isUtf8(all)) {
    if (end > 0 && all[end - 1] === 0x0a) end--;
    if (end > 0 && all[end - 1] === 0x0d) end--;
  }
  const out = Buffer.from(all.subarray(0, end));
  all.fill(0);
  stdinLeft = Buffer.alloc(0);
  return out;
}

/** The next line of stdin (without its newline). */
async function readStdinLine(): Promise<Buffer> {
  const all = await slurpStdin();
  const nl = all.indexOf(0x0a);
  const line = nl < 0 ? all : all.subarray(0, nl);
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  const out = Buffer.from(line.subarray(0, end));
  stdinLeft = nl < 0 ? Buffer.alloc(0) : Buffer.from(all.subarray(nl + 1));
  all.fill(0);
  return out;
}
function askpass(program: string, prompt: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(program, [prompt], { encoding: 'buffer', maxBuffer: MAX_STDIN, timeout: 5 * 60_000 }, (err, stdout) => {
      if (err) {
        stdout?.fill(0);
        return reject(new SigilError(ErrorCode.BAD_REQUEST, `SIGIL_ASKPASS program ${program} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      }
      let end = stdout.length;
      if (end > 0 && stdout[end - 1] === 0x0a) end--;
      const out = Buffer.from(stdout.subarray(0, end));
      stdout.fill(0);
      resolve(out);
    });
  });
}
