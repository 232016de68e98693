import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actingProcess, chainPrograms } from '../../../src/agent/caller/caller.js';
import { identifyCaller, lazyCaller } from '../../../src/agent/caller/identify.js';
import { which } from '../../support/sandbox.js';

/**
 * The caller read from /proc, of real processes started here: a shell script, a node script
 * by a relative path, python3 -c, a script through a symlink, a Sigilforge client found by
 * its path (and a copy of it not), `sh -c` as a relay, a login shell ending the chain, and
 * processes that are gone or half gone.
 */
const NODE = realpathSync(process.execPath);
const uid = process.getuid!();
const gid = process.getgid!();
const peerOf = (pid: number) => ({ pid, uid, gid });

describe.runIf(process.platform === 'linux')('identifyCaller', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'sigil-identify-')));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.pid) kill(c.pid);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a process that prints the pid to identify on its first line, then waits on its stdin. */
  async function start(cmd: string, args: string[], opts: { cwd?: string; argv0?: string } = {}): Promise<number> {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? dir, stdio: ['pipe', 'pipe', 'inherit'], ...(opts.argv0 ? { argv0: opts.argv0 } : {}) });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', () => reject(new Error(`${cmd} exited before saying its pid`)));
    });
    const pid = Number(line);
    expect(pid).toBeGreaterThan(1);
    return pid;
  }

  /** A node script that prints its pid and waits. */
  function waiter(path: string): string {
    writeFileSync(path, "process.stdout.write(process.pid + '\\n'); process.stdin.resume();\n");
    return path;
  }

  it('bash <(…) and /dev/fd paths are the caller\'s own files, not the agent\'s: a pipe is no script, a file is', async () => {
    // `bash /dev/fd/3` read by the agent would resolve to the agent's fd 3 (its audit log).
    const piped = await start('bash', ['-c', 'exec bash /dev/fd/3 3< <(printf \'echo $$\\nread -r _\\n\')']);
    const fromPipe = identifyCaller(peerOf(piped)).chain[0]!;
    expect(fromPipe).toMatchObject({ pid: piped, exe: realpathSync('/usr/bin/bash'), code: 'stdin' });
    expect(fromPipe.script).toBeUndefined();
    const script = join(dir, 'by-fd.sh');
    writeFileSync(script, 'echo $$\nread -r _\n');
    const fromFile = identifyCaller(peerOf(await start('bash', ['-c', `exec bash /dev/fd/3 3<${script}`]))).chain[0]!;
    expect(fromFile).toMatchObject({ script, program: script });
  });

  it('a shell script: bash, the script resolved, then this process', async () => {
    const script = join(dir, 'deploy.sh');
    writeFileSync(script, '#!/bin/bash\necho $$\nread -r _\n');
    chmodSync(script, 0o755);
    const pid = await start(script, []);
    const caller = identifyCaller(peerOf(pid));
    expect(caller.chain[0]).toMatchObject({ pid, uid, exe: realpathSync('/bin/bash'), script, program: script });
    expect(caller.chain[0]!.sigil).toBeUndefined();
    expect(caller.chain[1]).toMatchObject({ pid: process.pid, exe: NODE });
    expect(actingProcess(caller)).toBe(caller.chain[0]);
  });

  it('node with a relative script: resolved against the process\'s working directory', async () => {
    mkdirSync(join(dir, 'sub'));
    const script = waiter(join(dir, 'sub', 'tool.js'));
    const pid = await start(NODE, ['--no-warnings', 'sub/tool.js']);
    expect(identifyCaller(peerOf(pid)).chain[0]).toMatchObject({ exe: NODE, script, program: script });
  });

  it.runIf(which('python3'))('python3 -c: no script, its code is on the command line', async () => {
    const pid = await start('python3', ['-c', 'import os, sys; print(os.getpid(), flush=True); sys.stdin.read()']);
    const first = identifyCaller(peerOf(pid)).chain[0]!;
    expect(first.exe).toMatch(/python3/);
    expect(first).toMatchObject({ program: first.exe, code: 'command line' });
    expect(first.script).toBeUndefined();
    expect(first.relay).toBeUndefined(); // python3 -c speaks for itself; only sh -c relays
  });

  it('a script run through a symlink is named by the file it points to', async () => {
    const real = waiter(join(dir, 'real-tool.js'));
    mkdirSync(join(dir, 'bin'));
    symlinkSync('../real-tool.js', join(dir, 'bin', 'tool'));
    const pid = await start(NODE, [join(dir, 'bin', 'tool')]);
    expect(identifyCaller(peerOf(pid)).chain[0]).toMatchObject({ script: real, program: real });
  });

  it("recognises Sigilforge's clients by their path under the installation, through a link, never a copy", async () => {
    const binDir = join(dir, 'dist', 'bin');
    mkdirSync(binDir, { recursive: true });
    const token = waiter(join(binDir, 'sigil-token.cjs'));
    mkdirSync(join(dir, 'usr-bin'));
    symlinkSync(token, join(dir, 'usr-bin', 'sigil-token')); // as npm links bin entries
    const linked = await start(NODE, ['--', join(dir, 'usr-bin', 'sigil-token'), 'github', 'work']);
    const caller = identifyCaller(peerOf(linked), { binDir });
    expect(caller.chain[0]).toMatchObject({ sigil: 'sigil-token', script: token });
    // Transparent: the policy judges the program that ran it (here: this test's process).
    expect(actingProcess(caller)).toBe(caller.chain[1]);
    expect(chainPrograms(caller)[0]).toBe('sigil-token');

    const copy = join(dir, 'sigil-token.cjs');
    copyFileSync(token, copy);
    const copied = await start(NODE, [copy]);
    const impostor = identifyCaller(peerOf(copied), { binDir });
    expect(impostor.chain[0]!.sigil).toBeUndefined();
    expect(actingProcess(impostor)).toBe(impostor.chain[0]);
  });

  it('recognises the native sigil-token by its executable under the installation (the bin, or dist/native’s), never a copy', async () => {
    // Any executable stands in for the C program here (a copy of sh, so that it can print its
    // pid and wait): what is recognised is the file /proc/PID/exe names, not what it does.
    const binDir = join(dir, 'dist', 'bin');
    const nativeDir = join(dir, 'dist', 'native');
    mkdirSync(binDir, { recursive: true });
    mkdirSync(nativeDir);
    const asToken = (file: string) => {
      copyFileSync('/bin/sh', file);
      chmodSync(file, 0o755);
      return start(file, ['-c', 'echo $$; read x']);
    };
    for (const file of [join(binDir, 'sigil-token'), join(nativeDir, `sigil-token-${process.platform}-${process.arch}`)]) {
      const caller = identifyCaller(peerOf(await asToken(file)), { binDir });
      expect(caller.chain[0], file).toMatchObject({ sigil: 'sigil-token', exe: file });
      expect(actingProcess(caller)).toBe(caller.chain[1]);
    }
    const copy = identifyCaller(peerOf(await asToken(join(dir, 'sigil-token'))), { binDir });
    expect(copy.chain[0]!.sigil).toBeUndefined();
    expect(actingProcess(copy)).toBe(copy.chain[0]);
  });

  it('sh -c is a relay between a client and the program that ran it; a login shell ends the chain', async () => {
    const binDir = join(dir, 'bin');
    mkdirSync(binDir);
    const helper = waiter(join(binDir, 'git-credential-sigil.js'));
    // `; :` keeps sh from exec'ing its last command, as it does not when git runs a helper.
    const pid = await start('bash', ['-c', `sh -c '${NODE} ${helper}; :'; :`], { argv0: '-bash' });
    const caller = identifyCaller(peerOf(pid), { binDir });
    expect(caller.chain.map((p) => [p.sigil ?? p.exe, p.relay ?? false, p.login ?? false])).toEqual([
      ['git-credential-sigil', false, false],
      [realpathSync('/bin/sh'), true, false],
      [realpathSync('/bin/bash'), false, true],
    ]);
    // The login shell is the far end: it is what a rule would name.
    expect(actingProcess(caller)).toBe(caller.chain[2]);
    expect(chainPrograms(caller)).toEqual(['git-credential-sigil', realpathSync('/bin/bash')]);
  });

  it('a process that is gone: the peer alone, never a throw', async () => {
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    expect(identifyCaller(peerOf(gone.pid!))).toEqual({ peer: peerOf(gone.pid!), chain: [] });

  });

  it.runIf(which('python3'))('a process that exited but is not yet reaped (a zombie): its pid and uid, and its parent', async () => {
    // The forked child exits at once; python never waits for it.
    const zombie = await start('python3', ['-c', 'import os, sys\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\nsys.stdin.read()']);
    await waitForZombie(zombie);
    const caller = identifyCaller(peerOf(zombie));
    expect(caller.chain[0]).toEqual({ pid: zombie, uid }); // no exe, no script: it has exited
    expect(caller.chain[1]!.exe).toMatch(/python3/); // its parent, still there
    expect(caller.chain[1]!.code).toBe('command line');
  });

  // Root can start a process as another user: its parent (this process) is then of another uid.
  it.runIf(uid === 0)('stops before the first process of another uid', async () => {
    chmodSync(dir, 0o755);
    const script = waiter(join(dir, 'nobody.js'));
    const child = spawn(NODE, [script], { cwd: dir, uid: 65534, gid: 65534, stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    const pid = Number(await new Promise<string>((r) => child.stdout!.setEncoding('utf8').once('data', (d: string) => r(d.trim()))));
    const caller = identifyCaller({ pid, uid: 65534, gid: 65534 });
    expect(caller.chain.map((p) => [p.pid, p.uid, p.program])).toEqual([[pid, 65534, script]]);
  });

  it('ends at pid 1 or earlier, and every process in it is of the peer\'s uid', () => {
    const caller = identifyCaller(peerOf(process.pid));
    expect(caller.chain[0]).toMatchObject({ pid: process.pid, exe: NODE });
    expect(caller.chain.every((p) => p.uid === uid && p.pid > 1)).toBe(true);
  });

  it('lazily: /proc is read when the chain is first asked for, once', async () => {
    const script = waiter(join(dir, 'lazy.js'));
    const pid = await start(NODE, [script]);
    const caller = lazyCaller(peerOf(pid));
    expect(caller.peer).toEqual(peerOf(pid));
    const chain = caller.chain;
    expect(chain[0]).toMatchObject({ pid, program: script });
    expect(caller.chain).toBe(chain); // read once
    // A peer gone before its first request leaves the chain empty: what could be read.
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    expect(lazyCaller(peerOf(gone.pid!)).chain).toEqual([]);
  });

  it('is the unknown caller without peer credentials', () => {
    expect(identifyCaller(null)).toEqual({ peer: null, chain: [] });
  });
});

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

async function waitForZombie(pid: number): Promise<void> {
  const { readFileSync } = await import('node:fs');
  for (let i = 0; i < 200; i++) {
    try {
      if (/\nState:\tZ/.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} never became a zombie`);
}
