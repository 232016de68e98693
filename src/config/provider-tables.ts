import { readFile, realpath } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { writeFileAtomic } from '../stores/atomic-file.js';

/**
 * config.toml's [providers.NAME] tables as Sigilforge writes them: appended, every byte already
 * there kept (comments, order, spacing). For add_provider, and for a provider a sync brought
 * from another device.
 */

/** A TOML basic string: every control character escaped (TOML forbids them raw, DEL too). */
function tomlString(s: string, field: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) throw new SigilError(ErrorCode.BAD_REQUEST, `provider setting "${field}" must be valid Unicode text`, { field });
    else out += ch;
  }
  return out + '"';
}

function tomlSection(name: string, table: Record<string, unknown>): string {
  const lines = [`[providers.${name}]`];
  for (const [key, value] of Object.entries(table)) {
    lines.push(`${key} = ${Array.isArray(value) ? `[${value.map((v) => tomlString(String(v), key)).join(', ')}]` : tomlString(String(value), key)}`);
  }
  return lines.join('\n') + '\n';
}

function parseToml(path: string, text: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new SigilError(ErrorCode.BAD_REQUEST, `${path}:${err.line}:${err.column}: ${err.message.split('\n')[0]}`);
    throw err;
  }
}

function providersIn(doc: Record<string, unknown>): Record<string, unknown> {
  const p = doc.providers;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

/** config.toml's text (empty when missing) and the path to replace (a symlink's target). */
export async function readConfigText(configPath: string): Promise<{ target: string; text: string; doc: Record<string, unknown> }> {
  try {
    const target = await realpath(configPath);
    const text = await readFile(target, 'utf8');
    return { target, text, doc: parseToml(configPath, text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { target: configPath, text: '', doc: {} };
    if (err instanceof SigilError) throw err;
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${configPath}: ${(err as Error).message}`);
  }
}

/** ALREADY_EXISTS when config.toml, as it is on disk now, already has [providers.NAME]. */
export function refuseExisting(configPath: string, doc: Record<string, unknown>, name: string): void {
  if (Object.hasOwn(providersIn(doc), name)) throw new SigilError(ErrorCode.ALREADY_EXISTS, `provider "${name}" already exists in ${configPath}`, { field: 'name' });
}

/**
 * Appends [providers.NAME] to config.toml, leaving every byte already there as it was
 * (comments, order, spacing). A symlinked config.toml (dotfiles) stays a symlink: the file it
 * points to is the one replaced.
 */
export async function appendProvider(configPath: string, name: string, table: Record<string, unknown>): Promise<void> {
  const { target, text, doc } = await readConfigText(configPath);
  refuseExisting(configPath, doc, name);
  const sep = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  const next = text + sep + tomlSection(name, table);
  // The file may define providers in a way a new [providers.NAME] header cannot extend (an
  // inline table): then the result would not parse, or would not say what was asked.
  let written: unknown;
  try {
    written = providersIn(parse(next) as Record<string, unknown>)[name];
  } catch {
    written = undefined;
  }
  if (JSON.stringify(written) !== JSON.stringify(table)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `${configPath} defines [providers] so that a new [providers.${name}] section cannot be appended; add it by hand`);
  }
  await writeFileAtomic(target, Buffer.from(next, 'utf8'), 0o600);
}

