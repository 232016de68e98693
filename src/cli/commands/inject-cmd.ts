import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { resolveRefs, type RefUse } from '../resolve-refs.js';

export interface InjectOptions {
  inFile?: string;
  outFile?: string;
  force?: boolean;
}

/**
 * `{{ auth://… }}`, `{{ secret://… }}` and `{{ ref+BACKEND://… }}` (vals), blanks inside the braces optional. Other
 * `{{ … }}` (a Helm or Jinja template's own) are left alone; a placeholder that starts
 * like a reference but is not a valid one is an error, not a literal.
 */
const PLACEHOLDER = /\{\{[ \t]*((?:auth:\/\/|secret:\/\/|(?:vals:)?(?:secret)?ref\+)[^{}\n]*?)[ \t]*\}\}/g;

/**
 * `sigil inject [-i TEMPLATE] [-o OUT] [--force]`, as `op inject` does. Every reference is
 * resolved before anything is written: one that fails leaves no output at all, and the
 * error names it and its line. The template is handled as bytes (latin1 round-trips every
 * byte), so a template in any ASCII-compatible encoding comes out unchanged around the values.
 */
export async function inject(opts: InjectOptions): Promise<void> {
  const out = opts.outFile && opts.outFile !== '-' ? opts.outFile : null;
  if (out && !opts.force && exists(out)) throw alreadyExists(out);

  const template = (await readTemplate(opts.inFile ?? '-')).toString('latin1');
  const uses: RefUse[] = [];
  const matches: Array<{ start: number; end: number; ref: string }> = [];
  let line = 1;
  let counted = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    for (; counted < m.index; counted++) if (template.charCodeAt(counted) === 10) line++;
    const ref = m[1]!;
    uses.push({ ref, where: `line ${line}` });
    matches.push({ start: m.index, end: m.index + m[0].length, ref });
  }
  const values = await resolveRefs(uses);

  const parts: Uint8Array[] = [];
  let at = 0;
  for (const { start, end, ref } of matches) {
    const value = values.get(ref)!;
    // Text as UTF-8, bytes that are not text as they are.
    parts.push(Buffer.from(template.slice(at, start), 'latin1'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    at = end;
  }
  parts.push(Buffer.from(template.slice(at), 'latin1'));
  const result = Buffer.concat(parts);

  if (!out) {
    await new Promise<void>((resolve, reject) => process.stdout.write(result, (err) => (err ? reject(err) : resolve())));
    return;
  }
  await writeOut(out, result, !!opts.force);
}

async function readTemplate(path: string): Promise<Buffer> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(path);
  } catch (err) {
    throw fileError(`cannot read template ${path}`, err);
  }
}

/**
 * Writes OUT as a whole new 0600 file: a temp file beside it, fsynced, then moved into
 * place — rename(2) with --force, link(2) without, which fails if OUT appeared meanwhile,
 * so an existing file is never clobbered. A reader never sees a half-written OUT.
 */
async function writeOut(out: string, data: Buffer, force: boolean): Promise<void> {
  const temp = join(dirname(out), `.${basename(out)}.sigil-${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(temp, 'wx', 0o600);
  } catch (err) {
    throw fileError(`cannot write ${out}`, err);
  }
  try {
    try {
      await fh.chmod(0o600); // exactly 0600, whatever the umask
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (force) await rename(temp, out);
    else {
      try {
        await link(temp, out);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw alreadyExists(out);
        // Filesystems without hard links: check, then rename (a narrow race, but no clobber of a file seen).
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
        if (exists(out)) throw alreadyExists(out);
        await rename(temp, out);
      }
    }
  } catch (err) {
    if (err instanceof SigilError) throw err;
    throw fileError(`cannot write ${out}`, err);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function alreadyExists(path: string): SigilError {
  return new SigilError(ErrorCode.ALREADY_EXISTS, `${path} already exists; use --force to replace it`);
}

function fileError(what: string, err: unknown): SigilError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? String(err));
  return new SigilError(ErrorCode.BAD_REQUEST, `${what}: ${why}`, { cause: err });
}
