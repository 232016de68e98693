/**
 * Drives Debian's `age` CLI from tests. age reads passphrases from the terminal only, so
 * `script` (util-linux) gives it a pseudo-terminal fed from our stdin.
 * Output is captured, never printed: the pty echoes the passphrase.
 */
import { spawn, spawnSync } from 'node:child_process';

function found(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export const ageCliAvailable = found('age') && found('script');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // EPIPE when the program exits before reading it all
    child.stdin.end(input);
  });
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `age -d -o out in` answering the passphrase prompt. */
export function ageDecryptPassphrase(input: string, output: string, passphrase: string): Promise<RunResult> {
  return run('script', ['-qec', `age -d -o ${shQuote(output)} ${shQuote(input)}`, '/dev/null'], `${passphrase}\n`);
}

/** `age -p -o out in` answering the passphrase prompt and its confirmation (work factor: age's default, 18). */
export function ageEncryptPassphrase(input: string, output: string, passphrase: string): Promise<RunResult> {
  return run(
    'script',
    ['-qec', `age -p -o ${shQuote(output)} ${shQuote(input)}`, '/dev/null'],
    `${passphrase}\n${passphrase}\n`,
  );
}

/** `age -d -i identity -o out in`: no prompt involved. */
export function ageDecryptIdentity(input: string, output: string, identityFile: string): Promise<RunResult> {
  return run('age', ['-d', '-i', identityFile, '-o', output, input]);
}
