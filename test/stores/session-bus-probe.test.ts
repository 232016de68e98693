import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { probeSessionBus, unixSocketOf } from '../../src/stores/session-bus-probe.js';
import { Sandbox } from '../support/sandbox.js';

/**
 * libdbus would block the agent's one thread on a socket that never speaks D-Bus; the probe
 * asks first, asynchronously, and says what it found. Real buses pass it in the keyring
 * tests (gnome-keyring on a private dbus-daemon).
 */
describe('probeSessionBus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bus-probe-'));
  let server: Server | undefined;
  afterEach(() => server?.close());

  async function serve(onConnection: (c: Socket) => void): Promise<string> {
    const path = join(dir, `bus-${Math.random().toString(36).slice(2)}`);
    server = createServer((c) => {
      c.on('error', () => {});
      onConnection(c);
    });
    await new Promise<void>((r) => server!.listen(path, r));
    return `unix:path=${path}`;
  }

  it('reads the socket of the first unix: address, %-escapes and abstract names included', () => {
    expect(unixSocketOf('unix:path=/run/user/1000/bus')).toBe('/run/user/1000/bus');
    expect(unixSocketOf('unix:path=/tmp/a%20b,guid=1234')).toBe('/tmp/a b');
    expect(unixSocketOf('unix:abstract=/tmp/dbus-XYZ,guid=99')).toBe('\0/tmp/dbus-XYZ');
    expect(unixSocketOf('tcp:host=localhost,port=1;unix:path=/x')).toBe('/x');
    expect(unixSocketOf('tcp:host=localhost,port=1')).toBeNull();
  });

  it('passes a bus that greets back (OK or REJECTED), having sent the D-Bus greeting', async () => {
    let got = '';
    const address = await serve((c) =>
      c.once('data', (d) => {
        got = d.toString('latin1');
        c.write('REJECTED EXTERNAL\r\n');
      }),
    );
    await probeSessionBus(address);
    expect(got).toMatch(/^\0AUTH EXTERNAL [0-9a-f]+\r\n$/);
    const ok = await serve((c) => c.once('data', () => c.write('OK 0123456789abcdef\r\n')));
    await probeSessionBus(ok);
  });

  it('fails in time, saying what it found, for a silent socket, one that closes, one that talks something else, and none', async () => {
    const silent = await serve(() => {});
    const t0 = Date.now();
    await expect(probeSessionBus(silent, 300)).rejects.toThrow(`no D-Bus session (DBUS_SESSION_BUS_ADDRESS=${silent} did not answer as a D-Bus bus within 300 ms)`);
    expect(Date.now() - t0).toBeLessThan(3000);
    server!.close();
    const closing = await serve((c) => c.destroy());
    await expect(probeSessionBus(closing)).rejects.toThrow('closed the connection without answering: not a D-Bus bus');
    server!.close();
    const http = await serve((c) => c.once('data', () => c.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
    await expect(probeSessionBus(http)).rejects.toThrow('answered something that is not D-Bus');
    await expect(probeSessionBus(`unix:path=${join(dir, 'nothing-here')}`)).rejects.toThrow(/cannot connect to DBUS_SESSION_BUS_ADDRESS=unix:path=.*nothing-here\)$/);
  });

  it('keeps the agent answering while a keyring unlock meets a bus that never answers', async () => {
    const silent = await serve(() => {});
    const sb = new Sandbox();
    try {
      sb.env.DBUS_SESSION_BUS_ADDRESS = silent;
      mkdirSync(join(sb.home, 'config/sigilforge'), { recursive: true });
      writeFileSync(join(sb.home, 'config/sigilforge/config.toml'), '[storage]\nprimary = "keyring"\n');
      await sb.startAgent();
      expect((await sb.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], { input: 'pass phrase\n' })).code).toBe(0);
      const unlock = sb.sigil(['unlock', '--passphrase-stdin'], { input: 'pass phrase\n' });
      // Meanwhile the agent serves others (libdbus would have frozen it for good).
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      expect((await sb.status()).locked).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1500);
      const r = await unlock;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('did not answer as a D-Bus bus within 3 s');
    } finally {
      sb.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
