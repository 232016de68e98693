#!/usr/bin/env node
import { tokenMain } from '../token/main.js';

void tokenMain(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
