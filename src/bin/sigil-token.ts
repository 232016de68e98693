#!/usr/bin/env -S node --
import { join } from 'node:path';
import { tokenMain } from '../token/main.js';

// This file only ever runs as the CommonJS bundle dist/bin/sigil-token.cjs (scripts/build.mjs):
// __dirname is dist/bin, and the native client is built into dist/native.
void tokenMain(process.argv.slice(2), { nativeDir: join(__dirname, '..', 'native') }).then((code) => {
  process.exitCode = code;
});
