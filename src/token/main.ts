import { writeSync } from 'node:fs';
import { resolveSocketPath } from '../client/agent-endpoint.js';
import { requestSync } from '../client/sync-request.js';
import { loadSyncClient, syncClientFile } from '../native/sync-client.js';
import { EXIT_CODES } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import type { TokenAnswer } from '../protocol/results.js';
import { terminalText } from '../util/terminal-text.js';
import { VERSION } from '../version.js';

/**
 * sigil-token SERVICE ACCOUNT: one valid access token and a newline on stdout, nothing
 * else, for $(…) in scripts. This is the hot path, bundled into one CommonJS file so
 * start-up stays near bare node. Two transports, one behaviour: the native client when it
 * was built for this machine (no node:net, no event-loop turn), else the client library.
 */
const USAGE = 'usage: sigil-token SERVICE ACCOUNT\n';
const CLIENT_NAME = 'sigil-token';

export interface TokenMainOptions {
  /** Where the native client is built (dist/native); none: the portable client only. */
  nativeDir?: string;
}

export async function tokenMain(argv: string[], opts: TokenMainOptions = {}): Promise<number> {
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(USAGE + '\nPrints a fresh access token for the account, refreshed by the agent when needed.\nExit codes: see sigil-token(1).\n');
    return 0;
  }
  if (argv[0] === '-V' || argv[0] === '--version') {
    process.stdout.write(`sigil-token ${VERSION}\n`);
    return 0;
  }
  if (argv.length !== 2 || argv.some((a) => a.startsWith('-'))) {
    process.stderr.write(`sigil-token: expected SERVICE ACCOUNT\n${USAGE}`);
    return EXIT_CODES.BAD_REQUEST;
  }
  const [service, account] = argv as [string, string];
  try {
    // SIGIL_TOKEN_TRANSPORT=portable: a debugging switch (and the tests' way to run both).
    const native = opts.nativeDir && process.env.SIGIL_TOKEN_TRANSPORT !== 'portable' ? loadSyncClient(syncClientFile(opts.nativeDir)) : null;
    const answer = native
      ? requestSync(native, resolveSocketPath(), 'get_token', { service, account }, { clientName: CLIENT_NAME })
      : await getTokenPortable(service, account);
    // An agent's answer is not trusted to be well formed: a missing token is an error, not "undefined".
    if (typeof answer.access_token !== 'string') throw new SigilError('INTERNAL', 'the agent answered get_token without an access_token');
    // One write(2) and exit: creating process.stdout (a stream) and tearing down the socket
    // and the event loop cost ~1–2 ms of the hot path, and there is nothing left to do.
    try {
      writeSync(1, answer.access_token + '\n');
    } catch {
      process.exit(EXIT_CODES.INTERNAL); // stdout closed under us: nothing to tell anyone
    }
    process.exit(0);
  } catch (err) {
    const e = err instanceof SigilError ? err : new SigilError('INTERNAL', (err as Error)?.message ?? String(err));
    process.stderr.write(`sigil-token: ${terminalText(e.message, { lines: true })}\n`);
    return e.exitCode;
  }
}

async function getTokenPortable(service: string, account: string): Promise<TokenAnswer> {
  // Imported here, not at the top: the bundle then evaluates node:net and the client
  // library only on this path, never on the native one.
  const { AgentClient } = await import('../client/agent-client.js');
  const client = await AgentClient.connect({ clientName: CLIENT_NAME });
  try {
    return await client.call('get_token', { service, account });
  } catch (err) {
    client.close();
    throw err;
  }
  // Left open on success: the caller exits at once, and a close would only cost time.
}
