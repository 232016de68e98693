#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=512 --
// (A 1 MiB young generation and a 512 MiB heap cap, far above any vault: the agent is
// long-lived and mostly idle, and V8's defaults let each vault write grow the heap by tens of
// MiB that stay resident. Measured at 10k secrets after 20 writes: 114 → 74 MiB RSS.)
import { agentMain } from '../agent/main.js';

agentMain(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sigil-agent: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
