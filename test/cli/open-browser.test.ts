import { describe, expect, it } from 'vitest';
import { browserSupport, openBrowser } from '../../src/cli/open-browser.js';

// One decision for `sigil accounts add` and the TUI (which never ran $BROWSER without a DISPLAY).
describe.skipIf(process.platform !== 'linux')('browserSupport', () => {
  it('prefers the browser flow only in a graphical session without SSH', () => {
    expect(browserSupport({ DISPLAY: ':0' })).toEqual({ preferred: 'auth_code', canLaunch: true });
    expect(browserSupport({ WAYLAND_DISPLAY: 'wayland-0' }).preferred).toBe('auth_code');
    expect(browserSupport({ DISPLAY: ':0', SSH_CONNECTION: '10.0.0.1 5 10.0.0.2 22' })).toEqual({ preferred: 'device', canLaunch: false });
    expect(browserSupport({})).toEqual({ preferred: 'device', canLaunch: false });
  });

  it('runs $BROWSER without a display too (a forwarding script, wslview), and xdg-open only with one', async () => {
    expect(browserSupport({ BROWSER: 'wslview' })).toEqual({ preferred: 'device', canLaunch: true });
    expect(browserSupport({ BROWSER: ' : ' }).canLaunch).toBe(false);
    // Nothing to start: false at once, so the caller prints the URL instead of "Opened".
    expect(await openBrowser('http://127.0.0.1/', {})).toBe(false);
    expect(await openBrowser('http://127.0.0.1/', { BROWSER: '/nonexistent/browser' })).toBe(false);
  });
});
