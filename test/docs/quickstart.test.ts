import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, Sandbox, TEST_PASSPHRASE, which } from '../support/sandbox.js';
import { shQuote, TmuxPane } from '../support/tmux.js';
import { killStrayAgents } from '../agent/helpers.js';

/**
 * The README's quick start, tried as a new user would: every command line of its `sh`
 * blocks, in order, typed into bash in a real terminal (tmux) with a fresh HOME and the
 * binaries on PATH as `npm link` puts them, prompts answered as they appear. A line passes
 * when it exits 0, or with the status its README comment names ("exit 4"). Only the OAuth
 * step is skipped — it needs a provider app and a browser (test/oauth covers those flows) —
 * and the skipped lines are listed here, so a new README line is never skipped silently.
 */
const SKIPPED = [
  'sigil accounts add spotify personal',
  'sigil accounts add github work --device',
  'sigil-token spotify personal',
  'sigil accounts authorize spotify personal',
  'sigil token refresh spotify personal',
];

/** What the reader types at each prompt. */
const TOKEN_TYPED = 'ghp_typedAtThePrompt0123456789';
const TOKEN_PIPED = 'ghp_pipedOnStdin9876543210abcd';
const OPENAI_KEY = 'sk-quickstartKey0123456789';
const DB_PASSWORD = 'quickstart-db-p4ss';
const DB_PASSWORD_NEW = 'quickstart-db-n3w';
/** Answers per prompt, in the order the prompt appears. */
const ANSWERS: [RegExp, string[]][] = [
  [/^(?:New vault passphrase|Again|Vault passphrase)$/, [TEST_PASSPHRASE, TEST_PASSPHRASE, TEST_PASSPHRASE]],
  [/^Token for github\/work$/, [TOKEN_TYPED]],
  [/^Token for openai\/me$/, [OPENAI_KEY]],
  [/^Value for db\/prod\/password$/, [DB_PASSWORD, DB_PASSWORD_NEW]],
];
/** A prompt: the label ends its line with ": " (capture-pane may drop the trailing space). */
const PROMPT_ANY = /^([^\n]*(?:passphrase|Again|Token for \S+|Value for \S+)): ?$/gm;

interface Line {
  command: string;
  /** The exit status the README promises: "(exit N)" in the line's comment, else 0. */
  status: number;
}

export function quickStartLines(readme: string): Line[] {
  const start = readme.indexOf('\n## Quick start');
  const end = readme.indexOf('\n## ', start + 1);
  if (start < 0 || end < 0) throw new Error('README has no "## Quick start" section');
  const section = readme.slice(start, end);
  const lines: Line[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split('\n')) {
      const text = raw.trim();
      if (text === '') continue;
      // A comment starts at " # " (no command in the quick start has one inside quotes).
      const hash = text.search(/\s#\s/);
      const command = (hash < 0 ? text : text.slice(0, hash)).trim();
      const comment = hash < 0 ? '' : text.slice(hash);
      const status = /\(exit (\d+)\)/.exec(comment);
      lines.push({ command, status: status ? Number(status[1]) : 0 });
    }
  }
  return lines;
}

describe.skipIf(!which('tmux'))('README quick start', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const all = quickStartLines(readme);
  const lines = all.filter((l) => !SKIPPED.includes(l.command));
  const sb = new Sandbox();
  const term = new TmuxPane();
  const work = join(sb.home, 'project');
  const results: { line: Line; status: number; output: string }[] = [];

  beforeAll(async () => {
    // `npm link`: the four commands on PATH under their own names.
    const bin = join(sb.home, 'bin');
    mkdirSync(bin);
    for (const [name, target] of [
      ['sigil', BIN.sigil],
      ['sigil-agent', BIN.agent],
      ['sigil-token', BIN.token],
      ['git-credential-sigil', join(ROOT, 'dist/bin/git-credential-sigil.js')],
    ] as const) {
      symlinkSync(target, join(bin, name));
    }
    // What the reader already has in the project the examples talk about.
    mkdirSync(work);
    writeFileSync(join(work, 'deploy.sh'), '#!/bin/sh\necho "deploying as $GITHUB_TOKEN with $DB_PASSWORD"\n', { mode: 0o755 });
    writeFileSync(join(work, '.env.sigil'), 'API_KEY=auth://openai/me\n');
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'demo', private: true, scripts: { start: 'node -e "console.log(\'key length\', process.env.API_KEY.length)"' } }));
    writeFileSync(join(work, 'config.tpl'), 'database:\n  password: {{ secret://db/prod/password }}\n');

    const env: Record<string, string> = {
      ...sb.env,
      PATH: `${bin}:${sb.env.PATH}`,
      TOKEN: TOKEN_PIPED,
      HISTFILE: '/dev/null',
      npm_config_update_notifier: 'false',
      // The status of the last command is part of every prompt: the test reads it from there.
      PS1: '@@status=$?@@ $ ',
    };
    delete env.TERM;
    const vars = Object.entries(env)
      .map(([k, v]) => `${k}=${shQuote(v)}`)
      .join(' ');
    term.start(`cd ${shQuote(work)} && env -u CI ${vars} bash --norc --noprofile`, 200, 50, 10000);
    await term.waitHistory(/@@status=0@@ \$ $/m);

    for (const line of lines) {
      const before = prompts(term.history());
      term.shell(line.command);
      results.push(await finish(before + 1, line));
    }
  }, 120_000);

  afterAll(() => {
    term.kill();
    // The agent of `eval "$(sigil-agent)"` in the pane is daemonized: killing the shell leaves it.
    killStrayAgents(sb);
    sb.cleanup();
  });

  /** Waits for the shell prompt number `n`, answering the command's prompts on the way. */
  async function finish(n: number, line: Line): Promise<{ line: Line; status: number; output: string }> {
    let answered = 0;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const history = term.history();
      const parts = history.split(/@@status=(\d+)@@ \$ /);
      // parts: [before, status1, after1, status2, after2, …]; the current command's output
      // is the text after prompt n−1.
      const output = parts[2 * (n - 1)] ?? '';
      if (parts.length > 2 * n) return { line, status: Number(parts[2 * n - 1]), output: output.slice(line.command.length).replace(/^\n/, '') };
      const asked = [...output.matchAll(PROMPT_ANY)];
      if (asked.length > answered) {
        const label = asked[answered]![1]!;
        const answer = ANSWERS.find(([re]) => re.test(label))?.[1].shift();
        if (!answer) throw new Error(`unexpected prompt "${label}" while running "${line.command}":\n${output}`);
        term.type(answer);
        term.keys('Enter');
        answered++;
      }
      if (Date.now() > deadline) throw new Error(`"${line.command}" did not finish in 30 s; the pane:\n${history}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }

  function prompts(history: string): number {
    return history.split(/@@status=\d+@@ \$ /).length - 1;
  }

  const result = (command: string) => {
    const r = results.find((x) => x.line.command === command);
    if (!r) throw new Error(`the README quick start no longer runs "${command}"`);
    return r;
  };

  it('skips only the OAuth lines, and they are still in the README', () => {
    expect(all.filter((l) => SKIPPED.includes(l.command)).map((l) => l.command)).toEqual(SKIPPED);
    expect(lines.length).toBeGreaterThan(20);
  });

  it('every line exits with the status the README gives it', () => {
    const got = results.map((r) => `${r.line.command} → ${r.status}`);
    const want = lines.map((l) => `${l.command} → ${l.status}`);
    const failing = results.filter((r) => r.status !== r.line.status).map((r) => `${r.line.command} → ${r.status}\n${r.output}`);
    expect(failing, failing.join('\n\n')).toEqual([]);
    expect(got).toEqual(want);
  });

  it('prints what the README says each line prints', () => {
    // The piped token replaced the typed one.
    expect(result('sigil-token github work').output).toBe(`${TOKEN_PIPED}\n`);
    expect(result('sigil token get github work --format header').output).toBe(`Authorization: Bearer ${TOKEN_PIPED}\n`);
    expect(result('sigil accounts list').output).toMatch(/github\s+work/);
    expect(result('sigil accounts list').output).toMatch(/openai\s+me/);
    expect(result('sigil secret get db/prod/password').output).toBe(`${DB_PASSWORD}\n`);
    expect(result('sigil resolve secret://db/prod/password').output).toBe(`${DB_PASSWORD}\n`);
    expect(result('sigil check auth://github/work').output).not.toContain(TOKEN_PIPED);
    // sigil run: resolved in the child's environment, concealed in what it prints.
    const deploy = result('sigil run -- ./deploy.sh').output;
    expect(deploy).toBe('deploying as <concealed by sigil> with <concealed by sigil>\n');
    expect(result('sigil run --env-file .env.sigil -- npm start').output).toContain(`key length ${OPENAI_KEY.length}`);
    const yml = join(work, 'config.yml');
    expect(readFileSync(yml, 'utf8')).toBe(`database:\n  password: ${DB_PASSWORD}\n`);
    expect(statSync(yml).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(sb.home, '.gitconfig'), 'utf8')).toMatch(/helper = sigil/);
    expect(result('sigil secret history db/prod/password').output).toMatch(/^\s*1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/m);
    expect(result('sigil secret rollback db/prod/password 1').output).toBe('db/prod/password is at version 1 again (the value it replaced is version 2).\n');
    for (const answers of ANSWERS) expect(answers[1]).toEqual([]); // every answer was asked for
  });

  it('locks at the end: sigil-token says what to run', () => {
    const locked = results.filter((r) => r.line.command === 'sigil-token github work').at(-1)!;
    expect(locked.status).toBe(4);
    expect(locked.output).toBe('sigil-token: agent is locked — run: sigil unlock\n');
  });

  it('never shows a typed secret on the screen', () => {
    const screen = term.history();
    for (const secret of [TEST_PASSPHRASE, TOKEN_TYPED, OPENAI_KEY]) expect(screen).not.toContain(secret);
  });
});
