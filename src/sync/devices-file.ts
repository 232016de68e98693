import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse, stringify, TomlError } from 'smol-toml';
import { ErrorCode } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { terminalText } from '../util/terminal-text.js';

/**
 * devices.toml: the devices of a synced vault, each with its age recipient. It travels with
 * the vault (git), and the vault is encrypted to every recipient in it. Public keys and names
 * only: nothing in it is secret, but it says which machines can read the vault.
 *
 *     [devices.laptop]
 *     recipient = "age1…"
 *     added = "2026-12-03T10:00:00.000Z"
 */
export interface Device {
  name: string;
  recipient: string;
  /** ISO time it was added. */
  added: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const RECIPIENT = /^age1[0-9a-z]{58}$/;

export function checkDeviceName(name: string): string {
  if (!NAME.test(name)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `invalid device name "${terminalText(name, { max: 80 })}": use letters, digits and . _ - (max 63)`, { field: 'name' });
  }
  return name;
}

/** This machine's name as a device name can hold it (`sync init` and `join` without --name). */
export function defaultDeviceName(): string {
  const name = hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return name.slice(0, 63) || 'device';
}

/** An age X25519 recipient as age-keygen prints it; BAD_REQUEST otherwise. */
export function checkDeviceRecipient(recipient: string): string {
  if (!RECIPIENT.test(recipient)) {
    throw new SigilError(ErrorCode.BAD_REQUEST, `"${terminalText(recipient, { max: 80 })}" is not an age recipient (age1… as printed by sigil join)`, { field: 'recipient' });
  }
  return recipient;
}

/** The devices in `path`, sorted by name; a missing file is a vault that does not sync: none. */
export async function readDevicesFile(path: string): Promise<Device[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SigilError(ErrorCode.INTERNAL, `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseDevices(text, path);
}

export function parseDevices(text: string, path: string): Device[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new SigilError(ErrorCode.INTERNAL, `${path}:${err.line}:${err.column}: ${err.message.split('\n')[0]}`);
    throw err;
  }
  const table = doc.devices ?? {};
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new SigilError(ErrorCode.INTERNAL, `${path}: [devices] must be a table`);
  const out: Device[] = [];
  for (const [name, raw] of Object.entries(table as Record<string, unknown>)) {
    const d = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if (!NAME.test(name) || typeof d.recipient !== 'string' || !RECIPIENT.test(d.recipient)) {
      throw new SigilError(ErrorCode.INTERNAL, `${path}: device "${terminalText(name, { max: 80 })}" needs a name of letters, digits, . _ - and an age1… recipient`);
    }
    out.push({ name, recipient: d.recipient, added: typeof d.added === 'string' ? d.added : new Date(0).toISOString() });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function renderDevices(devices: readonly Device[]): string {
  const table: Record<string, { recipient: string; added: string }> = {};
  for (const d of [...devices].sort((a, b) => a.name.localeCompare(b.name))) table[d.name] = { recipient: d.recipient, added: d.added };
  return (
    '# Sigilforge devices: the vault is encrypted to every recipient below (and to recipients.txt).\n' +
    '# Written by sigil device add/remove and merged by sigil sync; public keys only.\n' +
    stringify({ devices: table }) +
    '\n'
  );
}
