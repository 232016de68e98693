import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startOidcServer, type OidcServer } from '../support/oidc-server.js';
import { launchBrowser, loginAndConsent, approveDevice, type TestBrowser } from '../support/browser.js';

let op: OidcServer;
let browser: TestBrowser;
beforeAll(async () => {
  const t0 = Date.now();
  [op, browser] = await Promise.all([startOidcServer({ accessTokenTtlS: 1, deviceInterval: 1 }), launchBrowser()]);
  console.log('setup', Date.now() - t0);
});
afterAll(async () => {
  await Promise.allSettled([op?.close(), browser?.close()]);
});

it('explore', async () => {
  const config = await client.discovery(new URL(op.issuer), op.clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const srv = createServer((req, res) => { res.end('ok'); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const url = client.buildAuthorizationUrl(config, { redirect_uri: `http://127.0.0.1:${port}/callback`, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'xyz' });
  const t0 = Date.now();
  const final = await loginAndConsent(browser.context, url.href);
  console.log(final, Date.now() - t0);
  const tokens = await client.authorizationCodeGrant(config, new URL(final), { pkceCodeVerifier: verifier, expectedState: 'xyz' });
  console.log(tokens, op.counts);
  const d = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
  console.log(d);
  const r = await approveDevice(browser.context, d.verification_uri, d.user_code);
  console.log(r);
  const t2 = await client.pollDeviceAuthorizationGrant(config, d);
  console.log(t2, op.counts);
  srv.close();
});
