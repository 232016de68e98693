import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { screenToHtml } from '../../scripts/ansi-html.mjs';
import { ROOT, which } from '../support/sandbox.js';

/** The README's TUI pictures come from a script; it must keep working as the TUI changes. */
describe('README screenshots', () => {
  const out = mkdtempSync(join(tmpdir(), 'sigil-shots-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('renders SGR colours, inverse and padding into the HTML screen', () => {
    const html = screenToHtml('\x1b[1m\x1b[35mSigilforge\x1b[0m \x1b[7mtab\x1b[27m\n\x1b[38;5;196mred\x1b[39m <b>', { cols: 20, rows: 3 });
    expect(html).toContain('<span style="color:#cd00cd;font-weight:bold">Sigilforge</span>');
    expect(html).toContain('<span style="color:#1e1e1e;background:#d4d4d4">tab</span>');
    expect(html).toContain('<span style="color:#ff0000">red</span>');
    expect(html).toContain('&lt;b&gt;'); // screen text is text, never markup
    const rows = /<pre id="screen">([\s\S]*)<\/pre>/.exec(html)![1]!.split('\n');
    expect(rows).toHaveLength(3);
  });

  it.skipIf(!which('tmux') || !which('chromium'))('npm run screenshots writes both pictures from a real agent and TUI', async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/screenshot-tui.mjs'), '--out', out], { timeout: 60_000 });
    for (const name of ['tui-accounts.png', 'tui-audit.png']) {
      const png = readFileSync(join(out, name));
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(png.readUInt32BE(16)).toBeGreaterThan(800); // width: the whole 112-column screen
    }
  }, 90_000);
});
