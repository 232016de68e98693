import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';

/**
 * The dotenv syntax `sigil run --env-file` reads, as docker compose and godotenv read it:
 *
 *   # comment                 blank lines and comment lines are skipped
 *   export KEY=value          an optional `export ` prefix
 *   KEY = value # comment     unquoted: trimmed; `#` starts a comment only after a blank
 *   KEY="a\nb \"c\""          double quotes: \n \r \t \" \\ are escapes; may span lines
 *   KEY='literal $x \n'       single quotes (and backquotes): taken as is; may span lines
 *
 * No `${VAR}` expansion: a value is what the file says. A line that is none of these is an
 * error naming the file and line — never the value, which may be a secret.
 */
export function parseDotenv(text: string, source: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  let line = 1;
  const fail = (at: number, why: string): never => {
    throw new SigilError(ErrorCode.BAD_REQUEST, `${source}:${at}: ${why}`);
  };
  const skipBlanks = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  /** Skips a `# comment` and the end of the line; anything else there is an error. */
  const endOfLine = (what: string) => {
    skipBlanks();
    if (text[i] === '#') while (i < text.length && text[i] !== '\n') i++;
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    if (i < text.length && text[i] !== '\n') fail(line, what);
    i++;
    line++;
  };

  while (i < text.length) {
    skipBlanks();
    if (text[i] === '\n' || text[i] === '\r' || text[i] === '#' || i >= text.length) {
      endOfLine('unexpected text');
      continue;
    }
    const head = /(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*/y;
    head.lastIndex = i;
    const m = head.exec(text);
    if (!m) fail(line, 'expected KEY=VALUE');
    const key = m![1]!;
    i = head.lastIndex;
    const quote = text[i];
    if (quote === '"' || quote === "'" || quote === '`') {
      const startLine = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail(startLine, `unterminated ${quote} quote for ${key}`);
        const c = text[i]!;
        if (c === quote) {
          i++;
          break;
        }
        if (c === '\n') line++;
        if (c === '\\' && quote === '"' && i + 1 < text.length) {
          const n = text[i + 1]!;
          const esc: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };
          if (n in esc) {
            value += esc[n];
            i += 2;
            continue;
          }
        }
        value += c;
        i++;
      }
      endOfLine(`unexpected text after the closing quote of ${key}`);
      out.push([key, value]);
    } else {
      let end = text.indexOf('\n', i);
      if (end < 0) end = text.length;
      let raw = text.slice(i, end);
      const comment = raw.startsWith('#') ? 0 : raw.search(/[ \t]#/);
      if (comment >= 0) raw = raw.slice(0, comment);
      out.push([key, raw.trim()]);
      i = end + 1;
      line++;
    }
  }
  return out;
}
