import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * The git CLI, driven for sync: the person's own git, ssh and credential helpers reach the
 * remote. Only plumbing that never merges files is used (hash-object, mktree, commit-tree,
 * update-ref): Sigilforge merges the vault itself, so no conflict marker can reach a file
 * and nothing in the work tree changes until Sigilforge writes it.
 *
 * Nothing may wait for a person: git's own prompts are off, and ssh runs in batch mode unless
 * the person chose an ssh command themselves (GIT_SSH_COMMAND, GIT_SSH or core.sshCommand).
 */
export interface GitOptions {
  /** The work tree (the data directory). */
  cwd: string;
  /** The environment git runs in (the agent's own, by default). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds for a command that reaches the remote (fetch, push, clone). */
  remoteTimeoutMs?: number;
}

/** The one branch a synced vault uses, whatever the remote's default. */
export const SYNC_BRANCH = 'main';
export const REMOTE = 'origin';
const LOCAL_TIMEOUT_MS = 30_000;
const REMOTE_TIMEOUT_MS = 120_000;
/** Enough for a vault of tens of MiB: `git show` of vault.age goes through a pipe. */
const MAX_BUFFER = 256 * 1024 * 1024;

export class GitError extends SigilError {}

export class Git {
  constructor(private readonly opts: GitOptions) {}

  /** Runs git with `args`; its stdout. A failure says what git said (never a secret: git sees none). */
  async run(args: string[], opts: { input?: Buffer; remote?: boolean; cwd?: string; encoding?: 'buffer' } = {}): Promise<Buffer> {
    const env: NodeJS.ProcessEnv = {
      ...(this.opts.env ?? process.env),
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: (this.opts.env ?? process.env).GIT_ASKPASS ?? '',
      LC_ALL: 'C',
      // The person's git config is theirs (user.name, ssh command, credential helpers), but
      // Sigilforge's commits must not wait for an editor or a signing prompt.
      GIT_EDITOR: 'true',
    };
    if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
    const timeout = opts.remote ? (this.opts.remoteTimeoutMs ?? REMOTE_TIMEOUT_MS) : LOCAL_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        // Sigilforge's commits are the tool's, named so (the message names the device), and
        // must not depend on the person having set user.email on every machine.
        // An encrypted vault does not compress: zlib would only cost time on every write and push.
        ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'user.name=Sigilforge', '-c', 'user.email=sigilforge@localhost.invalid', '-c', 'core.compression=0', ...args],
        { cwd: opts.cwd ?? this.opts.cwd, env, timeout, maxBuffer: MAX_BUFFER, encoding: 'buffer', killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          if (e.code === 'ENOENT') {
            return reject(new GitError(ErrorCode.INTERNAL, 'sync needs git, and there is no git on PATH: install git'));
          }
          // What the remote said (a hook's refusal, "remote: …") and git's last words.
          const lines = stderr.toString('utf8').trim().split('\n').filter(Boolean);
          const remoteSaid = lines.filter((l) => l.startsWith('remote:')).slice(0, 3);
          const said = terminalText([...remoteSaid, ...lines.slice(-3).filter((l) => !remoteSaid.includes(l))].join('; '), { max: 400 });
          const what = `git ${args[0]}`;
          if (e.killed) return reject(new GitError(opts.remote ? ErrorCode.REMOTE_ERROR : ErrorCode.INTERNAL, `${what} did not finish within ${timeout / 1000} s`));
          reject(new GitError(opts.remote ? ErrorCode.REMOTE_ERROR : ErrorCode.INTERNAL, `${what} failed${said ? `: ${said}` : ''}`));
        },
      );
      if (opts.input) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }

  async text(args: string[], opts: { remote?: boolean; cwd?: string } = {}): Promise<string> {
    return (await this.run(args, opts)).toString('utf8').trim();
  }

  /** The commit `rev` names, or null when it names none (an empty repository, no such branch). */
  async commit(rev: string): Promise<string | null> {
    try {
      return await this.text(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    } catch {
      return null;
    }
  }

  /** A file of `commit`, or null when the commit has no such file. */
  async show(commit: string, path: string): Promise<Buffer | null> {
    return (await this.showAll([`${commit}:${path}`]))[0]!;
  }

  /**
   * Several files at once (`REV:PATH` each), by one `git cat-file --batch`: null for one that
   * is not there. One process instead of two per file.
   */
  async showAll(specs: readonly string[]): Promise<Array<Buffer | null>> {
    if (specs.some((s) => s.includes('\n'))) throw new GitError(ErrorCode.INTERNAL, 'a git object name cannot hold a newline');
    const out = await this.run(['cat-file', '--batch'], { input: Buffer.from(specs.map((s) => `${s}\n`).join('')) });
    const files: Array<Buffer | null> = [];
    let at = 0;
    for (const spec of specs) {
      const eol = out.indexOf(0x0a, at);
      if (eol === -1) throw new GitError(ErrorCode.INTERNAL, `git cat-file said nothing of ${spec}`);
      const head = out.subarray(at, eol).toString('utf8');
      at = eol + 1;
      const m = / blob (\d+)$/.exec(head);
      if (!m) {
        files.push(null); // "REV:PATH missing" (or not a blob)
        if (!head.endsWith(' missing') && !head.endsWith(' ambiguous')) at = skipObject(out, head, at);
        continue;
      }
      const size = Number(m[1]);
      files.push(Buffer.from(out.subarray(at, at + size)));
      at += size + 1;
    }
    return files;
  }

  async mergeBase(a: string, b: string): Promise<string | null> {
    try {
      return await this.text(['merge-base', a, b]);
    } catch {
      return null; // unrelated histories
    }
  }

  async isAncestor(a: string, b: string): Promise<boolean> {
    try {
      await this.run(['merge-base', '--is-ancestor', a, b]);
      return true;
    } catch {
      return false;
    }
  }

  /** The tree of `files` (path → content), written to the object store without touching the work tree or the index. */
  async writeTree(files: ReadonlyMap<string, Buffer>): Promise<string> {
    const sorted = [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // One hash-object for every blob: written to temporary files in .git, named on its command line.
    const dir = await mkdtemp(join(this.opts.cwd, '.git', 'sigil-blobs-'));
    try {
      const paths = await Promise.all(
        sorted.map(async ([, content], i) => {
          const path = join(dir, String(i));
          await writeFile(path, content, { mode: 0o600 });
          return path;
        }),
      );
      const ids = (await this.text(['hash-object', '-w', '--', ...paths])).split('\n');
      const lines = sorted.map(([name], i) => `100644 blob ${ids[i]}\t${name}`);
      return (await this.run(['mktree'], { input: Buffer.from(lines.join('\n') + '\n') })).toString('utf8').trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The trees of commits, in order. */
  async trees(commits: readonly string[]): Promise<string[]> {
    if (commits.length === 0) return [];
    return (await this.text(['rev-parse', ...commits.map((c) => `${c}^{tree}`)])).split('\n');
  }

  async commitTree(tree: string, parents: readonly string[], message: string): Promise<string> {
    const args = ['commit-tree', tree, '-m', message];
    for (const p of parents) args.push('-p', p);
    return this.text(args);
  }

  /** The remote's branches (its configured refspec): an empty remote (a first push that failed) is no error. */
  fetch(): Promise<Buffer> {
    return this.run(['fetch', '--quiet', '--prune', REMOTE], { remote: true });
  }

  /** Pushes `commit` as the remote's branch; a push that is not a fast-forward is refused by git. */
  push(commit: string): Promise<Buffer> {
    return this.run(['push', '--quiet', REMOTE, `${commit}:refs/heads/${SYNC_BRANCH}`], { remote: true });
  }

  /** Moves the local branch (HEAD) to `commit` and the index with it; the work tree is Sigilforge's to write. */
  async advance(commit: string): Promise<void> {
    await this.run(['update-ref', `refs/heads/${SYNC_BRANCH}`, commit]);
    await this.run(['symbolic-ref', 'HEAD', `refs/heads/${SYNC_BRANCH}`]);
    await this.run(['read-tree', commit]);
  }
}

/** Past an object cat-file printed that is not a blob (a tree or commit named by mistake). */
function skipObject(out: Buffer, head: string, at: number): number {
  const m = / (\d+)$/.exec(head);
  return m ? at + Number(m[1]) + 1 : at;
}
