import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Clients act on an error's code and its details (field, retry_after_s), never on its
 * message: the text is for people and may change. This fails when code in src/cli, src/tui,
 * src/client (or the binaries' src/token, src/bin) tests a `.message` — a regex run on it, a
 * string method that searches it, or a comparison or switch against text.
 */

const ROOT = join(import.meta.dirname, '../..');
const CLIENT_DIRS = ['cli', 'tui', 'client', 'token', 'bin'];

/** String methods that ask what a text says (not split or slice, which only cut it for display). */
const SEARCHES = new Set(['includes', 'startsWith', 'endsWith', 'match', 'matchAll', 'search', 'indexOf', 'lastIndexOf', 'localeCompare']);
/** Called with the text: a RegExp's test and exec. */
const REGEX_METHODS = new Set(['test', 'exec']);
const EQUALITY = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken]);

const isMessage = (node: ts.Node): boolean =>
  (ts.isPropertyAccessExpression(node) && node.name.text === 'message') || (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'message');

const isText = (node: ts.Node): boolean => ts.isStringLiteralLike(node) || ts.isTemplateExpression(node);

/** Where `source` tests a message's text: "line: code" for each. */
function messageTests(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: string[] = [];
  const flag = (node: ts.Node) => found.push(`${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText()}`);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      if (REGEX_METHODS.has(method) && node.arguments.some(isMessage)) flag(node);
      if (SEARCHES.has(method) && isMessage(node.expression.expression)) flag(node);
    }
    if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
      if ((isMessage(node.left) && isText(node.right)) || (isMessage(node.right) && isText(node.left))) flag(node);
    }
    if (ts.isSwitchStatement(node) && isMessage(node.expression)) flag(node.expression);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('clients read error fields, not message text', () => {
  it('no client code (src/cli, src/tui, src/client, src/token, src/bin) tests an error message', () => {
    const files = CLIENT_DIRS.flatMap((dir) => (readdirSync(join(ROOT, 'src', dir), { recursive: true }) as string[]).filter((f) => /\.tsx?$/.test(f)).map((f) => join(dir, f)));
    expect(files.length).toBeGreaterThan(40);
    const found = files.flatMap((f) => messageTests(f, readFileSync(join(ROOT, 'src', f), 'utf8')).map((hit) => `src/${f}:${hit}`));
    expect(found).toEqual([]);
  });

  it('the check finds the matching that was there before the fields (authorize-cmds.ts, AddAccountScreen.tsx), and nothing else', () => {
    const before = [
      "if (chosen || err.code !== ErrorCode.BAD_REQUEST || !/endpoint/.test(err.message)) throw err;",
      "if (err.code === ErrorCode.ALREADY_EXISTS || /service name/.test(err.message)) return 'custom-name';",
      "if (/\\.issuer\"/.exec((err as SigilError).message)) return 1;",
      "if (e.message.includes('scope')) return 2;",
      "if (err?.message.startsWith(`no provider`)) return 3;",
      "if ('locked' === e.message) return 4;",
      "if (e['message'] !== `x ${y}`) return 5;",
      'switch (err.message) { default: }',
    ];
    for (const line of before) expect(messageTests('x.ts', line), line).toHaveLength(1);
    const fine = [
      'setError(err.message);',
      "process.stderr.write(`sigil: ${err.message}\\n`);",
      'const same = this.current.message === next.message;',
      "const first = err.message.split('\\n')[0];",
      "if (err.details.field === 'kind') retry();",
      'if (/x/.test(text)) return;',
    ];
    for (const line of fine) expect(messageTests('x.ts', line), line).toEqual([]);
  });
});
