import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startCallbackServer } from '../../src/oauth/callback-server.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Sends raw bytes and returns what the server answered before closing. */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.write(data);
    s.end();
  });
}

describe('loopback callback server', () => {
  it('binds 127.0.0.1 on an ephemeral port and accepts the one right redirect', async () => {
    const cb = await startCallbackServer('state-123');
    expect(cb.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const ok = await get(`${cb.redirectUri}?code=abc&state=state-123`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('Signed in');
    const url = await cb.result;
    expect(url.searchParams.get('code')).toBe('abc');
    expect(url.origin + url.pathname).toBe(cb.redirectUri);
    // One-shot: the server is gone, a replayed code cannot even connect.
    await expect(fetch(`${cb.redirectUri}?code=abc&state=state-123`)).rejects.toThrow();
  });

  it('answers abuse with error pages and keeps waiting for the real redirect', async () => {
    const cb = await startCallbackServer('good-state');
    const base = cb.redirectUri.replace('/callback', '');
    const port = Number(new URL(base).port);
    expect((await get(`${base}/`)).status).toBe(404);
    expect((await get(`${base}/favicon.ico`)).status).toBe(404);
    expect((await get(`${cb.redirectUri}?code=stolen&state=other`)).status).toBe(400);
    expect((await get(`${cb.redirectUri}?code=x`)).status).toBe(400);
    expect((await get(`${cb.redirectUri}?state=good-state`)).body).toContain('Missing code');
    expect((await fetch(`${cb.redirectUri}?code=x&state=good-state`, { method: 'POST', body: 'x' })).status).toBe(405);
    const huge = await raw(port, `GET /callback?${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431/);
    const junk = await raw(port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]));
    expect(junk).toMatch(/^HTTP\/1\.1 400/);
    // Still waiting, and the real redirect still works.
    let settled = false;
    void cb.result.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect((await get(`${cb.redirectUri}?code=real&state=good-state`)).status).toBe(200);
    expect((await cb.result).searchParams.get('code')).toBe('real');
  });

  it('passes a provider error (consent denied) through to the flow', async () => {
    const cb = await startCallbackServer('s');
    const page = await get(`${cb.redirectUri}?error=access_denied&state=s`);
    expect(page.body).toContain('access_denied');
    expect((await cb.result).searchParams.get('error')).toBe('access_denied');
  });

  it('escapes what it echoes', async () => {
    const cb = await startCallbackServer('s');
    const page = await get(`${cb.redirectUri}?error=${encodeURIComponent('<script>x</script>')}&state=s`);
    expect(page.body).not.toContain('<script>x');
    cb.close();
  });
});
