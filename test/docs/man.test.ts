import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/protocol/codes.js';

const root = join(import.meta.dirname, '..', '..');
const manDir = join(root, 'man');
const pages = readdirSync(manDir).filter((f) => /\.[1-8]$/.test(f)).sort();
const hasGroff = spawnSync('groff', ['--version'], { stdio: 'ignore' }).status === 0;
const groffMissing = 'groff is not installed (apt-get install groff-base)';

it('has the man pages package.json lists, and lists every page', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { man?: string[]; files?: string[] };
  expect(pkg.files).toContain('man');
  expect([...(pkg.man ?? [])].sort()).toEqual(pages.map((p) => `man/${p}`));
});

for (const page of pages) {
  it.skipIf(!hasGroff)(`${page} renders without a groff warning${hasGroff ? '' : ` (skipped: ${groffMissing})`}`, () => {
    const r = spawnSync('groff', ['-man', '-ww', '-z', '-K', 'utf8', join(manDir, page)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
}

/** A page's source with font escapes and hyphen escapes removed, for plain-text matching. */
function plain(source: string): string {
  return source.replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-').replace(/\\\(dq/g, '"');
}

it('sigil.1 documents every top-level command of sigil --help', () => {
  const help = execFileSync(process.execPath, [join(root, 'dist/bin/sigil.js'), '--help'], { encoding: 'utf8' });
  const commands = [...help.split(/^Commands:$/m)[1]!.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  expect(commands.length).toBeGreaterThan(10);
  const text = plain(readFileSync(join(manDir, 'sigil.1'), 'utf8'));
  for (const c of commands) expect(text, `sigil ${c}`).toMatch(new RegExp(`^\\.(B|BR|TP)? ?"?sigil ${c}\\b`, 'm'));
});

it("every EXIT_CODES code appears in sigil.1's EXIT STATUS section", () => {
  const text = plain(readFileSync(join(manDir, 'sigil.1'), 'utf8'));
  const section = text.split(/^\.SH EXIT STATUS$/m)[1]!.split(/^\.SH /m)[0]!;
  for (const [code, status] of Object.entries(EXIT_CODES)) {
    expect(section, code).toContain(code);
    expect(section, `${code} as ${status}`).toMatch(new RegExp(`^\\.B ${status}$[^]*?${code}`, 'm'));
  }
});

it('sigil.1 documents every subcommand and every option of the command tree', async () => {
  const { buildProgram } = (await import(join(root, 'dist/cli/program.js'))) as typeof import('../../src/cli/program.js');
  const text = plain(readFileSync(join(manDir, 'sigil.1'), 'utf8'));
  const missing: string[] = [];
  const walk = (cmd: import('commander').Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const name = [...path, sub.name()];
      if (sub.name() === 'help') continue;
      if (!text.includes(`sigil ${name.join(' ')}`)) missing.push(`command: sigil ${name.join(' ')}`);
      for (const o of sub.options) {
        const flag = o.long ?? o.short!;
        if (!o.hidden && !text.includes(flag)) missing.push(`option: sigil ${name.join(' ')} ${flag}`);
      }
      walk(sub, name);
    }
  };
  walk(buildProgram(), []);
  expect(missing).toEqual([]);
});

it('sigil-agent.1 documents every option of sigil-agent --help', () => {
  const help = execFileSync(process.execPath, [join(root, 'dist/bin/sigil-agent.js'), '--help'], { encoding: 'utf8' });
  const flags = [...new Set([...help.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]!))];
  expect(flags.length).toBeGreaterThan(8);
  const text = plain(readFileSync(join(manDir, 'sigil-agent.1'), 'utf8'));
  expect(flags.filter((f) => !text.includes(f))).toEqual([]);
});

it('every environment variable the code reads is in a man page', () => {
  const src = execFileSync('grep', ['-rhoE', String.raw`(process\.env|env)\.[A-Z][A-Z0-9_]{2,}|'SIGIL_[A-Z_]+'`, join(root, 'src')], { encoding: 'utf8' });
  const vars = [...new Set(src.split('\n').filter(Boolean).map((l) => l.replace(/^.*[.']/, '').replace(/'$/, '')))];
  expect(vars).toContain('SIGIL_AUTH_SOCK');
  const all = pages.map((p) => plain(readFileSync(join(manDir, p), 'utf8'))).join('\n');
  expect(vars.filter((v) => !all.includes(v))).toEqual([]);
});
