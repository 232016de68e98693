import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sigilPaths } from '../../src/util/paths.js';
import { BIN, ROOT } from '../support/sandbox.js';

/** `sigil-agent --print-unit systemd|launchd`, and the same files shipped in units/. */
const HAVE_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'sigil-units-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function printUnit(kind: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN.agent, '--print-unit', kind], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const agentPath = realpathSync(BIN.agent);

/**
 * A small XML well-formedness check (no plutil/xmllint here): one prolog, an optional
 * DOCTYPE, comments, and elements that nest and close properly, with only the five
 * predefined entities. Returns the elements as [name, text] in document order.
 */
function parseXml(text: string): Array<[string, string]> {
  let s = text;
  const eat = (re: RegExp): RegExpExecArray | null => {
    const m = re.exec(s);
    if (m) s = s.slice(m[0].length);
    return m;
  };
  if (!eat(/^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/)) throw new Error('no XML declaration');
  eat(/^<!DOCTYPE [^>]*>\s*/);
  const stack: string[] = [];
  const out: Array<[string, string]> = [];
  let rootSeen = false;
  while (s.length > 0) {
    if (eat(/^<!--([^-]|-(?!-))*-->/)) continue;
    let m = eat(/^<([A-Za-z][\w.-]*)\s*(?:\s[\w-]+="[^"<&]*")*\s*(\/?)>/);
    if (m) {
      if (stack.length === 0 && rootSeen) throw new Error('two root elements');
      rootSeen = true;
      out.push([m[1]!, '']);
      if (!m[2]) stack.push(m[1]!);
      continue;
    }
    m = eat(/^<\/([A-Za-z][\w.-]*)\s*>/);
    if (m) {
      if (stack.pop() !== m[1]) throw new Error(`</${m[1]}> closes nothing open`);
      continue;
    }
    m = eat(/^[^<]+/);
    if (m) {
      const t = m[0];
      if (stack.length === 0 && t.trim() !== '') throw new Error('text outside the root element');
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(t)) throw new Error(`bad entity in ${JSON.stringify(t)}`);
      if (out.length > 0 && stack.length > 0) out[out.length - 1]![1] += t.trim();
      continue;
    }
    throw new Error(`not XML at ${JSON.stringify(s.slice(0, 40))}`);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (!rootSeen) throw new Error('no root element');
  return out;
}

describe('sigil-agent --print-unit', () => {
  it('systemd: a user unit that runs this sigil-agent with -D on the %t socket', () => {
    const r = printUnit('systemd');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain(`ExecStart=${agentPath} -D -a %t/sigilforge/agent.sock`);
    expect(lines).toContain('Restart=on-failure');
    expect(lines).toContain('Environment=SIGIL_AUTH_SOCK=%t/sigilforge/agent.sock');
    expect(lines).toContain('WantedBy=default.target');
    expect(r.stdout).toContain('export SIGIL_AUTH_SOCK="$XDG_RUNTIME_DIR/sigilforge/agent.sock"');
  });

  it.runIf(HAVE_SYSTEMD_ANALYZE)(`systemd: systemd-analyze verify accepts it${HAVE_SYSTEMD_ANALYZE ? '' : ' (skipped: systemd-analyze is not installed)'}`, () => {
    const unit = join(tmp, 'sigil-agent.service');
    writeFileSync(unit, printUnit('systemd').stdout);
    // --man=no: the man page is not installed here, and verify would run man(1) for Documentation=.
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.runIf(HAVE_SYSTEMD_ANALYZE)(`systemd: the sandbox scores below 5 in systemd-analyze security (it scored 9.6, UNSAFE)${HAVE_SYSTEMD_ANALYZE ? '' : ' (skipped: systemd-analyze is not installed)'}`, () => {
    const unit = join(tmp, 'sigil-agent.service');
    writeFileSync(unit, printUnit('systemd').stdout);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(score).toBeLessThan(5);
  });

  it('systemd: what the agent needs stays allowed (inet for OAuth, AF_UNIX for clients and D-Bus, JIT, its own files)', () => {
    const lines = printUnit('systemd').stdout.split('\n');
    expect(lines).toContain('UMask=0077');
    expect(lines).toContain('NoNewPrivileges=yes');
    expect(lines).toContain('RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6');
    expect(lines.filter((l) => l.startsWith('MemoryDenyWriteExecute='))).toEqual([]); // V8 writes the code it runs
    expect(lines).toContain('ProtectSystem=strict');
    const writable = lines.find((l) => l.startsWith('ReadWritePaths='))!.slice('ReadWritePaths='.length).split(' ');
    // Every directory the agent writes to (src/util/paths.ts), as %h/%t paths, made before the start.
    const p = sigilPaths({ HOME: '/HOME', XDG_RUNTIME_DIR: '/RUNTIME' });
    const unitPath = (dir: string) => dir.replace(/^\/HOME\//, '%h/').replace(/^\/RUNTIME\//, '%t/');
    expect(writable).toEqual([p.configDir, p.dataDir, p.stateDir, p.socketDir].map(unitPath));
    expect(lines).toContain(`ExecStartPre=+/bin/mkdir -p -m 0700 ${writable.join(' ')}`);
  });

  it('launchd: a well-formed plist that runs this sigil-agent with -D, kept alive, at load', () => {
    const r = printUnit('launchd', { TMPDIR: '/private/var/folders/xy/abc/T' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const els = parseXml(r.stdout);
    expect(els[0]).toEqual(['plist', '']);
    const strings = els.filter(([n]) => n === 'string').map(([, t]) => t);
    const keys = els.filter(([n]) => n === 'key').map(([, t]) => t);
    expect(keys).toEqual(expect.arrayContaining(['Label', 'ProgramArguments', 'RunAtLoad', 'KeepAlive']));
    expect(strings[0]).toBe('dev.sigilforge.agent');
    const sock = '/private/var/folders/xy/abc/T/sigilforge/agent.sock';
    expect(strings.slice(1, 5)).toEqual([agentPath, '-D', '-a', sock]);
    // RunAtLoad is <true/>.
    const at = els.findIndex(([n, t]) => n === 'key' && t === 'RunAtLoad');
    expect(els[at + 1]).toEqual(['true', '']);
  });

  it('the checker refuses XML that is not well-formed', () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
    expect(() => parseXml(head + '<a><b></a></b>')).toThrow();
    expect(() => parseXml(head + '<a>x & y</a>')).toThrow();
    expect(() => parseXml(head + '<a></a><b/>')).toThrow();
    expect(() => parseXml(head + '<a>')).toThrow();
  });

  it('refuses an unknown kind with a usage error', () => {
    const r = printUnit('upstart');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--print-unit: expected systemd or launchd');
  });

  it('units/ ships the same files, with /usr/local/bin/sigil-agent as the path', () => {
    const systemd = printUnit('systemd').stdout.replaceAll(agentPath, '/usr/local/bin/sigil-agent');
    expect(readFileSync(join(ROOT, 'units/sigil-agent.service'), 'utf8')).toBe(systemd);
    const launchd = printUnit('launchd', { TMPDIR: '/tmp' }).stdout.replaceAll(agentPath, '/usr/local/bin/sigil-agent');
    expect(readFileSync(join(ROOT, 'units/dev.sigilforge.agent.plist'), 'utf8')).toBe(launchd);
    parseXml(launchd);
  });
});
