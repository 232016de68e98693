import { writeSync } from 'node:fs';
import { AgentClient } from '../client/agent-client.js';
import { EXIT_CODES } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { TokenAnswer } from '../protocol/results.js';

/**
 * sigil-token SERVICE ACCOUNT: one valid access token and a newline on stdout, nothing
 * else, for $(…) in scripts. This is the hot path: it imports the client library and
 * nothing more, and is bundled into one CommonJS file so start-up stays near bare node.
 */
const USAGE = 'usage: sigil-token SERVICE ACCOUNT\n';

export async function tokenMain(argv: string[]): Promise<number> {
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(USAGE + '\nPrints a fresh access token for the account, refreshed by the agent when needed.\nExit codes: see sigil-token(1).\n');
    return 0;
  }
  if (argv.length !== 2 || argv.some((a) => a.startsWith('-'))) {
    process.stderr.write(`sigil-token: expected SERVICE ACCOUNT\n${USAGE}`);
    return EXIT_CODES.BAD_REQUEST;
  }
  const [service, account] = argv as [string, string];
  try {
    const client = await AgentClient.connect({ clientName: 'sigil-token' });
    try {
      const r = await client.request<TokenAnswer>('get_token', { service, account });
      // One write(2) and exit: creating process.stdout (a stream) and tearing down the socket
      // and the event loop cost ~1–2 ms of the hot path, and there is nothing left to do.
      try {
        writeSync(1, r.access_token + '\n');
      } catch {
        process.exit(EXIT_CODES.INTERNAL); // stdout closed under us: nothing to tell anyone
      }
      process.exit(0);
    } finally {
      client.close();
    }
  } catch (err) {
    const e = err instanceof SigilError ? err : new SigilError('INTERNAL', (err as Error)?.message ?? String(err));
    process.stderr.write(`sigil-token: ${e.message}\n`);
    return e.exitCode;
  }
}
