import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS } from '../../src/protocol/op-catalog.js';
import type { AgentClient } from '../../src/client/agent-client.js';
import { methodName, SigilClient } from '../../src/client/package-client.js';
import { agentSuite } from '../agent/helpers.js';
import { ROOT } from '../support/sandbox.js';

/**
 * `import { connect } from 'sigilforge'` as another Node program gets it: the tarball `npm
 * pack` writes, unpacked into a throwaway project's node_modules/sigilforge (what `npm
 * install` of the .tgz puts there, without a registry: CI is offline). Its dependencies are
 * the checkout's, linked in one by one from package.json's `dependencies` — only those, so an
 * import of a devDependency by the library fails here as it would for a user.
 */

const agent = agentSuite();
let app = '';
let work = '';

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH!, HOME: work, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sigil-pack-'));
  // --ignore-scripts: "prepack" would rebuild dist/ under the other tests' feet.
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, { npm_config_cache: join(work, 'npm-cache') });
  expect(pack.code, pack.stderr).toBe(0);
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
  app = join(work, 'app');
  const pkgDir = join(app, 'node_modules/sigilforge');
  mkdirSync(pkgDir, { recursive: true });
  const untar = run('tar', ['-xzf', join(work, filename), '-C', pkgDir, '--strip-components=1'], work);
  expect(untar.code, untar.stderr).toBe(0);
  const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of [...Object.keys(dependencies), '@types/node']) {
    mkdirSync(join(app, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(app, 'node_modules', dep));
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What a consumer prints: the token, the secret and the error it saw, as JSON. */
const CONSUMER_BODY = `
const client = await connect({ socket: process.argv[2], clientName: 'consumer' });
try {
  const status = await client.status();
  const token = await client.getToken('api', 'me');
  const secret = await client.getSecret('db/password');
  const listed = await client.listAccounts({ service: 'api' });
  let error = null;
  try {
    await client.getSecret('no/such-secret');
  } catch (err) {
    if (!(err instanceof SigilError)) throw err;
    error = { code: err.code, exitCode: err.exitCode, isNotFound: err.code === ErrorCode.NOT_FOUND, message: err.message };
  }
  console.log(JSON.stringify({ locked: status.locked, token: token.access_token, secret: secret.value, accounts: listed.accounts.map((a) => a.account), error }));
} finally {
  client.close();
}
`;

describe('the package as a client library (from the packed tarball)', () => {
  beforeAll(async () => {
    await agent.client.call('set_token', { service: 'api', account: 'me', access_token: 'library-token-1' });
    const set = await agent.sb.sigil(['secret', 'set', 'db/password', '--stdin'], { input: 'library-secret-1\n' });
    expect(set.code, set.stderr).toBe(0);
  });

  const expected = {
    locked: false,
    token: 'library-token-1',
    secret: 'library-secret-1',
    accounts: ['me'],
    error: { code: 'NOT_FOUND', exitCode: 7, isNotFound: true, message: expect.stringContaining('no/such-secret') },
  };

  it('an .mjs consumer gets a token and a secret, and a SigilError with its code', () => {
    writeFileSync(join(app, 'consumer.mjs'), `import { connect, ErrorCode, SigilError } from 'sigilforge';\n${CONSUMER_BODY}`);
    const r = run(process.execPath, ['consumer.mjs', agent.sb.socket], app);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
  });

  it('a TypeScript consumer and the README example typecheck against the shipped declarations, wrong calls refused, and the consumer runs', () => {
    const wrong = [
      '// @ts-expect-error: getToken needs the account too',
      "void client.getToken('api');",
      '// @ts-expect-error: a secret name is a string',
      'void client.getSecret(7);',
      '// @ts-expect-error: no such op',
      "void client.call('get_tokens', {});",
      '// @ts-expect-error: the answer is typed, not any',
      'const n: number = (await client.getToken("a", "b")).access_token;',
    ];
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { connect, ErrorCode, SigilError, type SigilClient } from 'sigilforge';\n${CONSUMER_BODY}\nexport async function neverCalled(client: SigilClient): Promise<void> {\n${wrong.join('\n')}\n  void n;\n}\n`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], outDir: 'out', skipLibCheck: false }, files: ['consumer.ts', 'readme-example.ts'] }),
    );
    // README.md's example, as it stands there, typechecks the same way.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n## From Node programs\n')[1]!;
    writeFileSync(join(app, 'readme-example.ts'), /```js\n([\s\S]*?)```/.exec(readme)![1]!);
    const tsc = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], app);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
    const r = run(process.execPath, ['out/consumer.js', agent.sb.socket], app);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(expected);
  });

  it('a CommonJS program can require() it too', () => {
    writeFileSync(join(app, 'consumer.cjs'), "const { connect, ErrorCode } = require('sigilforge');\nconsole.log(typeof connect, ErrorCode.LOCKED);\n");
    const r = run(process.execPath, ['consumer.cjs'], app);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('function LOCKED\n');
  });

  it('without an agent, connect() fails with NO_AGENT naming the socket', () => {
    const script = "import { connect } from 'sigilforge';\nconnect({ socket: process.argv[2] }).catch((e) => console.log(e.name, e.code, e.message));\n";
    writeFileSync(join(app, 'no-agent.mjs'), script);
    const r = run(process.execPath, ['no-agent.mjs', join(work, 'nothing.sock')], app);
    expect(r.stdout).toMatch(/^SigilError NO_AGENT no agent answers at .*nothing\.sock \(no such socket\)/);
  });
});

it('the client has one method per catalogue op, named in camelCase', () => {
  for (const op of OPS) expect(typeof (SigilClient.prototype as unknown as Record<string, unknown>)[methodName(op)], op).toBe('function');
  expect(methodName('get_token')).toBe('getToken');
  expect(methodName('forget_passphrase')).toBe('forgetPassphrase');
});

it("a method sends its positional arguments under the catalogue's names, and wait_flow waits without a timeout unless given one", async () => {
  // The request each method makes, seen at the transport (the wire itself is tested above).
  const seen: unknown[] = [];
  const transport = { request: (op: string, args: unknown, opts: unknown) => (seen.push([op, args, opts]), Promise.resolve({})) };
  const client = new SigilClient(transport as unknown as AgentClient);
  await client.getToken('api', 'me');
  await client.setSecret('db/password', 'v', { overwrite: true });
  await client.rollbackSecret('db/password', 2);
  await client.waitFlow('f1');
  await client.waitFlow('f2', {}, { timeoutMs: 5 });
  await client.waitConfirm();
  await client.status({}, { timeoutMs: 7 });
  expect(seen).toEqual([
    ['get_token', { service: 'api', account: 'me' }, undefined],
    ['set_secret', { name: 'db/password', value: 'v', overwrite: true }, undefined],
    ['rollback_secret', { name: 'db/password', version: 2 }, undefined],
    ['wait_flow', { flow_id: 'f1' }, { timeoutMs: 0 }],
    ['wait_flow', { flow_id: 'f2' }, { timeoutMs: 5 }],
    ['wait_confirm', {}, { timeoutMs: 0 }],
    ['status', {}, { timeoutMs: 7 }],
  ]);
});
