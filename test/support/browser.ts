import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';

/**
 * Debian's headless Chromium driven by playwright-core, for the user's side of OAuth flows
 * against test/support/oidc-server.ts (oidc-provider's devInteractions pages).
 *
 * Only loopback hosts are reachable: every other request is aborted (oidc-provider's pages
 * import Google Fonts; the machine has no internet and tests must not touch it anyway).
 * Chromium is closed by close(), by a lifetime watchdog timer, at process exit, and — if this
 * process is SIGKILLed — by a tiny detached shell that waits for this process to vanish.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Closes Chromium and removes its temporary profile. Idempotent. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Close Chromium anyway after this long (default 120 s). */
  maxLifetimeMs?: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
function isLoopback(url: string): boolean {
  try {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'about:' || u.protocol === 'blob:') return true;
    return LOOPBACK_HOSTS.has(u.hostname) || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
  } catch {
    return false;
  }
}

/** PIDs of processes whose command line mentions `needle` (our unique profile directory). */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(needle)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'sigil-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: 30_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }

  const chromiumPids = pidsWith(`--user-data-dir=${profile}`);
  // Outlives a SIGKILL of this process: kills Chromium once our pid is gone, then exits.
  let watchdogPid: number | undefined;
  if (chromiumPids.length > 0) {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${chromiumPids.join(' ')} 2>/dev/null; rm -rf '${profile}'`;
    const wd = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    wd.unref();
    watchdogPid = wd.pid;
  }
  const onExit = () => {
    for (const pid of chromiumPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    try {
      rmSync(profile, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  };
  process.once('exit', onExit);

  await context.route('**/*', (route) => (isLoopback(route.request().url()) ? route.continue() : route.abort()));
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearTimeout(lifetime);
      process.removeListener('exit', onExit);
      try {
        await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10_000))]);
      } catch {
        /* already closed */
      }
      for (const pid of chromiumPids) {
        try {
          process.kill(pid, 'SIGKILL'); // only if context.close() left it running
        } catch {
          /* gone: the normal case */
        }
      }
      if (watchdogPid !== undefined) {
        try {
          process.kill(watchdogPid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      rmSync(profile, { recursive: true, force: true });
    })();
    return closing;
  };
  const lifetime = setTimeout(() => void close(), opts.maxLifetimeMs ?? 120_000);
  lifetime.unref();
  return { context, close };
}

// ---------------------------------------------------------------------------------------------

export type Decision = 'approve' | 'deny';
export interface UserOptions {
  /** Login name typed on the sign-in page (any name is an account). Default `alice`. */
  login?: string;
  /** Continue or cancel on the consent page. Default `approve`. */
  decision?: Decision;
  /** Clear cookies first, so the sign-in page always shows (default true). */
  freshSession?: boolean;
  /** Per-step timeout in ms (default 15 s). */
  timeoutMs?: number;
}

async function submitAndWait(page: Page, selector: string, timeout: number): Promise<void> {
  // The form POST answers with a chain of 303s; wait for the document the chain ends on.
  // A failed navigation (nothing listening on the callback port) is not an error here.
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout }).catch(() => {}),
    page.click(selector, { timeout }),
  ]);
}

/**
 * Which devInteractions page is shown: `login`, `consent`, or null (another page). Waits for
 * the document first: the pages are server-rendered, so once it is parsed the form is there or
 * never will be. (A fixed half-second wait for the form read a slow page as "no prompt" on a
 * loaded machine and left the flow unfinished.)
 */
async function promptOf(page: Page, timeout: number): Promise<string | null> {
  try {
    await page.waitForLoadState('domcontentloaded', { timeout });
    const prompt = page.locator('form input[name="prompt"]').first();
    return (await prompt.count()) > 0 ? await prompt.getAttribute('value', { timeout }) : null;
  } catch {
    return null;
  }
}

/**
 * Answers oidc-provider's devInteractions pages until none is shown or `left()` is true:
 * types the login name (any password) and continues, or cancels the consent.
 */
async function walkInteractions(page: Page, login: string, decision: Decision, timeout: number, left: () => boolean): Promise<void> {
  for (let step = 0; step < 6 && !left(); step++) {
    const prompt = await promptOf(page, timeout);
    if (prompt === 'login') {
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', 'any password');
      await submitAndWait(page, 'button[type="submit"]', timeout);
    } else if (prompt === 'consent') {
      if (decision === 'deny') {
        // The layout's "[ Cancel ]" link: GET …/abort → access_denied.
        await Promise.all([
          page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout }).catch(() => {}),
          page.click('a[href$="/abort"]', { timeout }),
        ]);
      } else {
        await submitAndWait(page, 'button[type="submit"]', timeout);
      }
    } else {
      return;
    }
  }
}

/**
 * Opens `authorizationUrl`, signs in as `login`, approves or denies consent, and lets the
 * provider redirect to the client's loopback callback. Resolves with the URL the provider
 * redirected to (callback URL with `code`/`state` or `error=access_denied`), once the callback
 * request finished or failed (nothing listening). If the flow ends elsewhere (an error page),
 * resolves with that page's URL.
 */
export async function loginAndConsent(context: BrowserContext, authorizationUrl: string, opts: UserOptions = {}): Promise<string> {
  const { login = 'alice', decision = 'approve', freshSession = true, timeoutMs = 15_000 } = opts;
  const issuerOrigin = new URL(authorizationUrl).origin;
  if (freshSession) await context.clearCookies();
  const page = await context.newPage();
  let callback: Request | undefined;
  let callbackDone!: () => void;
  const callbackSettled = new Promise<void>((r) => (callbackDone = r));
  const mine = (req: Request) => req.isNavigationRequest() && req.frame() === page.mainFrame();
  page.on('request', (req) => {
    if (mine(req) && !callback && new URL(req.url()).origin !== issuerOrigin) callback = req;
  });
  const settle = (req: Request) => {
    if (req === callback) callbackDone();
  };
  page.on('requestfinished', settle);
  page.on('requestfailed', settle);
  try {
    await page.goto(authorizationUrl, { waitUntil: 'domcontentloaded', timeout: timeoutMs }).catch(() => {});
    await walkInteractions(page, login, decision, timeoutMs, () => callback !== undefined);
    if (callback) {
      await Promise.race([callbackSettled, new Promise((r) => setTimeout(r, timeoutMs))]);
      return callback.url();
    }
    return page.url();
  } finally {
    await page.close().catch(() => {});
  }
}

export interface DeviceResult {
  /** URL of the last page (oidc-provider's device success or error page). */
  url: string;
  /** Its `<h1>`, e.g. "Sign-in Success". */
  heading: string;
  /** Its visible text. */
  text: string;
}

/**
 * Opens `verificationUri`, enters `userCode`, confirms, signs in as `login` and approves or
 * denies consent. Resolves with the final page (device flow success or error).
 */
export async function approveDevice(
  context: BrowserContext,
  verificationUri: string,
  userCode: string,
  opts: UserOptions = {},
): Promise<DeviceResult> {
  const { login = 'alice', decision = 'approve', freshSession = true, timeoutMs = 15_000 } = opts;
  if (freshSession) await context.clearCookies();
  const page = await context.newPage();
  try {
    await page.goto(verificationUri, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    const input = page.locator('input[name="user_code"]');
    if ((await input.count()) > 0) {
      await input.fill(userCode);
      await submitAndWait(page, 'button[form="op.deviceInputForm"]', timeoutMs);
    }
    // "Confirm Device": the code shown, Continue or Abort.
    if ((await page.locator('form#op\\.deviceConfirmForm').count()) > 0) {
      await submitAndWait(page, 'button[autofocus][form="op.deviceConfirmForm"]', timeoutMs);
    }
    await walkInteractions(page, login, decision, timeoutMs, () => false);
    const heading = (await page.locator('h1').first().textContent({ timeout: 2000 }).catch(() => null)) ?? '';
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '');
    return { url: page.url(), heading: heading.trim(), text };
  } finally {
    await page.close().catch(() => {});
  }
}
