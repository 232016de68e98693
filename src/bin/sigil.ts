#!/usr/bin/env node
import { cliMain } from '../cli/program.js';

void cliMain(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
