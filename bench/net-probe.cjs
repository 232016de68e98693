'use strict';
// Preloaded (node --require) into one sigil-token run by bench/run.mjs and the tests: says on
// stderr, as the process exits, whether node:net was loaded — i.e. which transport ran.
process.on('exit', () => {
  require('node:fs').writeSync(2, `net loaded: ${process.moduleLoadList.includes('NativeModule net') ? 'yes' : 'no'}\n`);
});
