#!/usr/bin/env -S node --
import { gitCredentialMain } from '../cli/git-credential.js';

void gitCredentialMain(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
