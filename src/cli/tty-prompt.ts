import { closeSync, openSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/** Whether a controlling terminal can be opened for a prompt. */
export function hasTty(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** Longest value accepted at a prompt: a pasted token fits, a runaway paste does not. */
const MAX_INPUT = 64 * 1024;

/**
 * Asks on the controlling terminal (not stdin, which may be a pipe) with echo off, as
 * ssh-add and gpg do. The answer is collected in a Buffer the caller wipes.
 */
export function promptHidden(prompt: string): Promise<Buffer> {
  const fd = openSync('/dev/tty', 'r+');
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  input.setRawMode(true);
  output.write(prompt);
  const buf = Buffer.alloc(MAX_INPUT);
  let len = 0;
  return new Promise((resolve, reject) => {
    const finish = (err: SigilError | null) => {
      input.setRawMode(false);
      input.off('data', onData);
      output.write('\n');
      input.destroy();
      if (err) {
        buf.fill(0);
        reject(err);
      } else {
        const out = Buffer.from(buf.subarray(0, len));
        buf.fill(0);
        resolve(out);
      }
    };
    const onData = (chunk: Buffer) => {
      for (const byte of chunk) {
        if (byte === 0x0d || byte === 0x0a) return finish(null);
        if (byte === 0x03) return finish(new SigilError(ErrorCode.BAD_REQUEST, 'interrupted'));
        if (byte === 0x04 && len === 0) return finish(new SigilError(ErrorCode.BAD_REQUEST, 'no input (end of file at the prompt)'));
        if (byte === 0x7f || byte === 0x08) {
          // Backspace: drop the last UTF-8 character, not just its last byte.
          while (len > 0 && (buf[len - 1]! & 0xc0) === 0x80) len--;
          if (len > 0) len--;
          continue;
        }
        if (byte === 0x15) {
          len = 0; // Ctrl-U clears the line, as in a shell
          continue;
        }
        if (byte < 0x20) continue;
        if (len >= MAX_INPUT) return finish(new SigilError(ErrorCode.BAD_REQUEST, 'input too long'));
        buf[len++] = byte;
      }
      chunk.fill(0);
    };
    input.on('data', onData);
  });
}
