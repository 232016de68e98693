// Benchmark for the SOPS store (issue 13): `secret://` resolution from a SOPS file of 1,000
// values against the vault's, through the built agent:
//   - first: the first resolve after an unlock (the SOPS file is opened at first use: read,
//     data key unwrapped with the age identity, 1,000 values decrypted, MAC checked; the
//     vault was decrypted by the unlock itself), median of 5 lock/unlock rounds;
//   - cached: 1,000 sequential resolves of random names on one connection (p50, p99).
//
// Run alone: node bench/sops-bench.mjs   (or as section 8 of npm run bench)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distImport, fmt, importBundled, killAll, ROOT, Sandbox, summarize, table } from './lib.mjs';

const VALUES = 1000;
const ROUNDS = 5;
const PASSPHRASE = 'bench passphrase';
const FIXTURES = join(ROOT, 'test/stores/fixtures/sops/');

/** A SOPS file of VALUES values, written by Sigilforge's own writer from the sops 3.9 fixture. */
function makeSopsFile(work) {
  return importBundled(
    `
        import { readFileSync } from 'node:fs';
        import { openSops, readSops, unwrapDataKey, writeSops } from './src/stores/sops/sops-file.ts';
        export function identityIn(dir) {
          return readFileSync(dir + 'age.txt', 'utf8').match(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m)[0];
        }
        export async function make(dir, n) {
          const identity = identityIn(dir);
          const text = readFileSync(dir + 'secret-age.yaml', 'utf8');
          const file = openSops(text, 'yaml', await unwrapDataKey(readSops(text, 'yaml', 'f'), identity), 'f');
          const sets = Array.from({ length: n }, (_, i) => ({ name: 'stringData/s' + i, value: Buffer.from('sops-value-' + i) }));
          return writeSops(file, sets, new Date(), 'f').text;
        }`,
    join(work, 'make-sops.mjs'),
  );
}

async function timeResolve(c, ref) {
  const t = performance.now();
  const r = await c.request('resolve', { ref });
  const ms = performance.now() - t;
  if (typeof r.value !== 'string' || !r.value.endsWith('-value-' + ref.split(/[sv]/).pop())) throw new Error(`resolve ${ref}: wrong value`);
  return ms;
}

export async function runSopsBench(log = console.log) {
  mkdirSync(join(ROOT, '.bench-out'), { recursive: true });
  const work = mkdtempSync(join(ROOT, '.bench-out', 'sops-'));
  const { AgentClient } = await distImport('client/agent-client.js');
  const gen = await makeSopsFile(work);
  const sb = new Sandbox('sigil-sops-bench-');
  try {
    writeFileSync(join(sb.home, 'secrets.enc.yaml'), await gen.make(FIXTURES, VALUES));
    mkdirSync(join(sb.home, 'config/sigilforge'), { recursive: true });
    writeFileSync(join(sb.home, 'config/sigilforge/config.toml'), '[[storage.sops]]\npath = "~/secrets.enc.yaml"\nprefix = "infra/"\n');
    const agent = await sb.startAgent();
    await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: PASSPHRASE });
    await sb.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE });
    await sb.sigil(['age-key', '--import'], { input: gen.identityIn(FIXTURES) + '\n' });
    let c = await AgentClient.connect({ socketPath: agent.socket });
    for (let i = 0; i < VALUES; i++) await c.request('set_secret', { name: `bench/v${i}`, value: `vault-value-${i}` });
    const sopsRef = (i) => `secret://infra/stringData/s${i}`;
    const vaultRef = (i) => `secret://bench/v${i}`;

    const first = { sops: [], vault: [] };
    for (let round = 0; round < ROUNDS; round++) {
      c.close();
      await sb.sigil(['lock']);
      await sb.sigil(['unlock', '--passphrase-stdin'], { input: PASSPHRASE });
      c = await AgentClient.connect({ socketPath: agent.socket });
      first.vault.push(await timeResolve(c, vaultRef(500)));
      first.sops.push(await timeResolve(c, sopsRef(500)));
    }
    const cached = {};
    for (const [kind, ref] of [['sops', sopsRef], ['vault', vaultRef]]) {
      const samples = [];
      for (let i = 0; i < VALUES; i++) samples.push(await timeResolve(c, ref(Math.floor(Math.random() * VALUES))));
      cached[kind] = summarize(samples.sort((a, b) => a - b));
    }
    c.close();
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const result = {
      values: VALUES,
      firstMs: { sops: med(first.sops), vault: med(first.vault) },
      cached,
    };
    log(
      table(
        [`resolve secret:// (${VALUES} values)`, 'first after unlock (median of 5)', 'cached p50', 'cached p99'],
        [
          ['SOPS file (YAML)', fmt.ms(result.firstMs.sops), fmt.ms(cached.sops.median), fmt.ms(cached.sops.p99)],
          ['vault', fmt.ms(result.firstMs.vault), fmt.ms(cached.vault.median), fmt.ms(cached.vault.p99)],
        ],
      ),
    );
    log(`  SOPS / vault: first ${fmt.x(result.firstMs.sops / result.firstMs.vault)}, cached p50 ${fmt.x(cached.sops.median / cached.vault.median)}`);
    return result;
  } finally {
    killAll();
    sb.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSopsBench().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      killAll();
      process.exit(1);
    },
  );
}
