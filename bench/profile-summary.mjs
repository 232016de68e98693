#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --cpu-prof DIR`):
// the top functions by self time, and self time per source file.
//   node bench/profile-summary.mjs FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary.mjs FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
const TOP = Number(topArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const totalUs = dt.reduce((a, b) => a + b, 0);

const short = (url) => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');
const fnKey = (cf) => `${cf.functionName || '(anonymous)'}  ${short(cf.url)}:${cf.lineNumber + 1}`;
const byFn = new Map();
const byFile = new Map();
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  byFn.set(fnKey(cf), (byFn.get(fnKey(cf)) ?? 0) + us);
  const f = cf.url ? short(cf.url) : `(${cf.functionName})`;
  byFile.set(f, (byFile.get(f) ?? 0) + us);
}
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
const busy = totalUs - idle;
const show = (title, map) => {
  console.log(`\n${title} (of ${(busy / 1000).toFixed(0)} ms busy, ${(totalUs / 1000).toFixed(0)} ms sampled)`);
  for (const [k, us] of [...map].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
  }
};
show('self time by function', byFn);
show('self time by file', byFile);
