import { readAuditLines, type AuditTailCall } from '../../client/audit-tail.js';
import type { AuditEntry } from '../../protocol/results.js';
import { auditChain } from '../../util/program-chain.js';
import { terminalText } from '../../util/terminal-text.js';
import { call } from '../agent.js';
import { printJson } from '../output.js';
import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';

/** How often --follow asks for new lines: quick enough to feel live, cheap for the agent. */
const FOLLOW_POLL_MS = 500;

/** One entry as one line: every field escaped, since any client can put text in a target or its name. */
function line(e: AuditEntry): string {
  const who = (e.pid !== undefined ? ` pid=${String(e.pid)}` : '') + (e.forwarded !== undefined ? ` forwarded=${String(e.forwarded)}` : '');
  const client = e.client !== undefined ? ` ${String(e.client)}` : '';
  const target = e.target !== undefined ? ` ${String(e.target)}` : '';
  const chain = auditChain(e);
  const by = chain ? ` (${chain})` : '';
  const time = typeof e.time === 'number' ? new Date(e.time * 1000).toISOString() : String(e.time);
  return terminalText(`${time} ${String(e.op)}${target} ${String(e.result)}${client}${who}${by}`);
}

export async function audit(opts: { lines?: string; follow?: boolean; json?: boolean }): Promise<void> {
  const limit = opts.lines === undefined ? 20 : Number(opts.lines);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new SigilError(ErrorCode.BAD_REQUEST, '-n must be a positive integer');
  const show = (entries: AuditEntry[]) => {
    for (const e of entries) process.stdout.write((opts.json ? JSON.stringify(e) : line(e)) + '\n');
  };
  const tail: AuditTailCall = (op, args) => call(op, args);
  let page = await readAuditLines(tail, limit);
  if (opts.json && !opts.follow) return printJson(page.entries);
  show(page.entries);
  if (!opts.follow) return;
  for (;;) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    page = await tail('audit_tail', { after: page.cursor });
    show(page.entries);
  }
}
