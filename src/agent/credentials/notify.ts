import { spawn } from 'node:child_process';

/**
 * Runs the person's notify_cmd when an account needs attention. What happened is passed in
 * SIGIL_* variables (names only, never a token); the command runs detached with no input
 * and its output is dropped, so a slow or broken notifier cannot stall the agent.
 */
export function runNotifyCommand(
  command: string,
  event: { service: string; account: string; event: string; reason: string },
  log: (msg: string) => void,
): void {
  try {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: 'ignore',
      env: {
        ...process.env,
        SIGIL_SERVICE: event.service,
        SIGIL_ACCOUNT: event.account,
        SIGIL_EVENT: event.event,
        SIGIL_REASON: event.reason,
      },
    });
    child.on('error', (err) => log(`notify_cmd failed: ${err.message}`));
    child.unref();
  } catch (err) {
    log(`notify_cmd failed: ${(err as Error).message}`);
  }
}
