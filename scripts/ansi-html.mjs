// A terminal screen as tmux prints it (`capture-pane -e`: text with SGR sequences) → HTML,
// so a browser can render it to an image for the README. Only SGR matters here: tmux's
// capture holds no cursor motion.

/** xterm's default 16 colours. */
const BASE16 = [
  '#000000', '#cd0000', '#00cd00', '#cdcd00', '#0000ee', '#cd00cd', '#00cdcd', '#e5e5e5',
  '#7f7f7f', '#ff0000', '#00ff00', '#ffff00', '#5c5cff', '#ff00ff', '#00ffff', '#ffffff',
];

function color256(n) {
  if (n < 16) return BASE16[n];
  if (n < 232) {
    const i = n - 16;
    const level = (v) => (v === 0 ? 0 : 55 + v * 40);
    return rgb(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
  }
  const g = 8 + (n - 232) * 10;
  return rgb(g, g, g);
}

const rgb = (r, g, b) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Applies one SGR parameter list to the running style. */
function applySgr(style, params) {
  const p = params.length === 0 ? [0] : params;
  for (let i = 0; i < p.length; i++) {
    const n = p[i];
    if (n === 0) Object.assign(style, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false });
    else if (n === 1) style.bold = true;
    else if (n === 2) style.dim = true;
    else if (n === 3) style.italic = true;
    else if (n === 4) style.underline = true;
    else if (n === 7) style.inverse = true;
    else if (n === 22) style.bold = style.dim = false;
    else if (n === 23) style.italic = false;
    else if (n === 24) style.underline = false;
    else if (n === 27) style.inverse = false;
    else if (n >= 30 && n <= 37) style.fg = BASE16[n - 30];
    else if (n >= 90 && n <= 97) style.fg = BASE16[n - 90 + 8];
    else if (n >= 40 && n <= 47) style.bg = BASE16[n - 40];
    else if (n >= 100 && n <= 107) style.bg = BASE16[n - 100 + 8];
    else if (n === 39) style.fg = null;
    else if (n === 49) style.bg = null;
    else if (n === 38 || n === 48) {
      let c = null;
      if (p[i + 1] === 5) {
        c = color256(p[i + 2]);
        i += 2;
      } else if (p[i + 1] === 2) {
        c = rgb(p[i + 2], p[i + 3], p[i + 4]);
        i += 4;
      }
      if (n === 38) style.fg = c;
      else style.bg = c;
    }
  }
}

function css(style, theme) {
  let fg = style.fg ?? theme.fg;
  let bg = style.bg ?? null;
  if (style.inverse) [fg, bg] = [bg ?? theme.bg, fg];
  const rules = [`color:${fg}`];
  if (bg) rules.push(`background:${bg}`);
  if (style.bold) rules.push('font-weight:bold');
  if (style.dim) rules.push('opacity:0.6');
  if (style.italic) rules.push('font-style:italic');
  if (style.underline) rules.push('text-decoration:underline');
  return rules.join(';');
}

/** The screen as a complete HTML page: one <pre id="screen"> of cols × rows cells. */
export function screenToHtml(captured, { cols, rows, title = '', theme = { fg: '#d4d4d4', bg: '#1e1e1e' } }) {
  const style = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false };
  const lines = captured.replace(/\n$/, '').split('\n').slice(0, rows);
  while (lines.length < rows) lines.push('');
  const html = lines.map((line) => {
    let out = '';
    let width = 0;
    let last = 0;
    const flush = (text) => {
      if (text === '') return;
      width += [...text].length;
      out += `<span style="${css(style, theme)}">${escapeHtml(text)}</span>`;
    };
    for (const m of line.matchAll(/\x1b\[([0-9;]*)m/g)) {
      flush(line.slice(last, m.index));
      applySgr(style, m[1] === '' ? [] : m[1].split(';').map(Number));
      last = m.index + m[0].length;
    }
    flush(line.slice(last));
    // Pad with the current background so inverse bars (the status bar) run the full width.
    if (width < cols) flush(' '.repeat(cols - width));
    return out;
  });
  return `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
  body { margin: 0; background: #0b0b0b; }
  #frame { display: inline-block; padding: 14px 16px; background: ${theme.bg}; border-radius: 8px; }
  #screen { margin: 0; font: 14px/1.3 "DejaVu Sans Mono", "Liberation Mono", monospace; color: ${theme.fg}; }
</style>
<div id="frame"><pre id="screen">${html.join('\n')}</pre></div>`;
}
