import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { eventually, ROOT } from './sandbox.js';

/** One step of what a fake agent does on each connection (see fake-agent.mjs). */
export type Step = { read: number } | { send: Uint8Array } | { trickle: Uint8Array } | { end: true };

export interface FakeAgent {
  path: string;
  /** The bytes connection `i` had sent when its `read` step completed (waits for them). */
  request(i: number): Promise<Buffer>;
  stop(): Promise<void>;
}

/** A scripted agent in a worker thread, listening on `path`: every connection plays `plan`, or connection i plays plan[i]. */
export async function startFakeAgent(path: string, plan: Step[] | Step[][]): Promise<FakeAgent> {
  const worker = new Worker(join(ROOT, 'test/support/fake-agent.mjs'), { workerData: { path, plan } });
  const requests: Uint8Array[] = [];
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: unknown) => {
      if (m === 'ready') resolve();
      else requests.push((m as { request: Uint8Array }).request);
    });
    worker.once('error', reject);
  });
  return {
    path,
    async request(i) {
      // Reported by the worker's thread; this one may have been blocked in the native client.
      await eventually(() => requests.length > i);
      return Buffer.from(requests[i]!);
    },
    async stop() {
      await worker.terminate();
    },
  };
}

/** A socket file that nobody listens on: what an agent killed with SIGKILL leaves behind. */
export function staleSocket(path: string): string {
  const script = "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  spawnSync(process.execPath, ['-e', script, path]);
  return path;
}
