#!/usr/bin/env -S node --
// The "--": Node 20 reads an --env-file option anywhere before one on its command line, even
// after the script's name, so `sigil run --env-file F` would be Node's, not sigil's.
import { cliMain } from '../cli/program.js';

void cliMain(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
