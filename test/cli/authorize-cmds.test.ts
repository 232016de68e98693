import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { Sandbox } from '../support/sandbox.js';
import { spawnSigil, writeConfig } from '../oauth/flow-helpers.js';

/**
 * `sigil accounts add` without --device/--browser guesses the flow (device without a display,
 * the browser with one); when the provider lacks it, the agent's BAD_REQUEST names the field
 * `kind` and the CLI tries the other flow. Once it read "endpoint" in the message instead.
 */
describe('sigil accounts add: the other flow when the provider lacks the guessed one (error field "kind")', () => {
  let gh: FakeGithub;
  let sb: Sandbox;
  beforeAll(async () => {
    gh = await startFakeGithub({ interval: 1 });
    const e = gh.endpoints;
    sb = new Sandbox();
    writeConfig(
      sb,
      `[providers.browseronly]\nclient_id = "Iv1.sigiltest"\nauthorization_endpoint = "${e.authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\n\n` +
        `[providers.deviceonly]\nclient_id = "Iv1.sigiltest"\ndevice_authorization_endpoint = "${e.device_authorization_endpoint}"\ntoken_endpoint = "${e.token_endpoint}"\n`,
    );
    await sb.startAgent();
    await sb.initAndUnlock();
  });
  afterAll(async () => {
    sb?.cleanup();
    await gh?.close();
  });

  it('no display: the device flow is guessed, and the browser flow runs when the provider has no device endpoint', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'browseronly', 'alice', '--no-open']);
    const [, url] = await cmd.waitFor(/Sign in to browseronly by visiting:\n\n {2}(\S+)\n/);
    expect(url).toContain(gh.endpoints.authorization_endpoint);
    cmd.child.kill('SIGINT'); // the CLI cancels the flow and exits 130
    expect((await cmd.done).code).toBe(130);
  });

  it('a display: the browser flow is guessed, and the device flow runs (and signs in) when the provider has no authorization endpoint', async () => {
    const cmd = spawnSigil(sb, ['accounts', 'add', 'deviceonly', 'bob', '--no-open'], { DISPLAY: ':0' });
    const [, code] = await cmd.waitFor(/To sign in to deviceonly, visit \S+ and enter the code:\n\n {4}([A-Z]{4}-[A-Z]{4})\n/);
    gh.approveDevice(code!);
    const done = await cmd.done;
    expect(done.stderr).toContain('Authorized deviceonly/bob');
    expect(done.code).toBe(0);
  });

  it('a flow the person chose is not swapped: the provider lacking it is the answer (exit 2)', async () => {
    const r = await sb.sigil(['accounts', 'add', 'browseronly', 'carol', '--device']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('browseronly has no device authorization endpoint; use the browser flow');
  });
});
