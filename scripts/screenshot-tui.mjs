#!/usr/bin/env node
// The README's pictures of `sigil tui`, made from the real thing: a throwaway HOME, a real
// agent, OAuth accounts signed in by the device flow against a small provider on 127.0.0.1
// (the presets' endpoints overridden in config.toml, as a person can), the TUI in tmux, its
// screen captured with colours (tmux capture-pane -e) and rendered to PNG by Debian's
// Chromium. Needs tmux and /usr/bin/chromium (scripts/setup.sh installs both) and a build.
//
//   node scripts/screenshot-tui.mjs [--out DIR]      (npm run screenshots; default docs/)
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { homeEnv } from '../bench/lib.mjs';
import { screenToHtml } from './ansi-html.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'docs') } } });
const COLS = 112;
const ROWS = 24;
const PASSPHRASE = 'screenshot passphrase';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quote = (v) => `'${v.replace(/'/g, `'\\''`)}'`;

/** RFC 8628 device flow and refresh, just enough to sign accounts in; one grant is revoked. */
function startProvider() {
  let n = 0;
  const scopes = new Map(); // device code → the scope asked for, granted in full
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const json = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (req.url === '/device') {
        scopes.set(`dc-${++n}`, form.get('scope') ?? '');
        return json(200, { device_code: `dc-${n}`, user_code: 'WDJB-MJHT', verification_uri: `http://127.0.0.1:${server.address().port}/activate`, expires_in: 600, interval: 1 });
      }
      if (req.url === '/token' && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
        const revoked = form.get('client_id') === 'revoked-app';
        return json(200, { access_token: `at-${n}-${Date.now()}`, refresh_token: revoked ? 'rt-revoked' : `rt-${n}`, token_type: 'Bearer', expires_in: 3600, scope: scopes.get(form.get('device_code')) ?? '' });
      }
      if (req.url === '/token' && form.get('grant_type') === 'refresh_token') {
        if (form.get('refresh_token') === 'rt-revoked') return json(400, { error: 'invalid_grant', error_description: 'The refresh token was revoked.' });
        return json(200, { access_token: `at-r-${Date.now()}`, token_type: 'Bearer', expires_in: 3600 });
      }
      json(404, { error: 'not_found' });
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

class Home {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'sigil-screenshot-'));
    this.env = { ...homeEnv(this.dir, ['PATH']), LANG: 'C.UTF-8' };
  }

  /** Asynchronous: the provider answering the agent runs in this process's event loop. */
  sigil(args, input = '', ok = [0]) {
    return new Promise((resolvePromise, reject) => {
      const child = execFile(process.execPath, [join(ROOT, 'dist/bin/sigil.js'), ...args], { env: this.env, timeout: 60_000 }, (err, stdout, stderr) => {
        const status = err ? err.code : 0;
        if (!ok.includes(status)) reject(new Error(`sigil ${args.join(' ')} failed (${status}): ${stderr}`));
        else resolvePromise(stdout);
      });
      child.stdin.end(input);
    });
  }

  startAgent() {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/bin/sigil-agent.js'), '-s'], { env: this.env, encoding: 'utf8' });
    this.agentPid = Number(/SIGIL_AGENT_PID=(\d+)/.exec(r.stdout)?.[1]);
    if (!this.agentPid) throw new Error(`sigil-agent failed: ${r.stderr}`);
  }

  cleanup() {
    if (this.agentPid) {
      try {
        process.kill(this.agentPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeConfig(home, port) {
  const base = `http://127.0.0.1:${port}`;
  const endpoints = (clientId, scopes) =>
    `client_id = "${clientId}"\nscopes = ${JSON.stringify(scopes)}\nauthorization_endpoint = "${base}/authorize"\ntoken_endpoint = "${base}/token"\ndevice_authorization_endpoint = "${base}/device"\n`;
  mkdirSync(join(home.dir, 'config/sigilforge'), { recursive: true });
  writeFileSync(
    join(home.dir, 'config/sigilforge/config.toml'),
    `[providers.spotify]\n${endpoints('4f1c0a9e-demo', ['user-read-private', 'playlist-read-private'])}\n` +
      `[providers.microsoft]\n${endpoints('revoked-app', ['offline_access', 'Mail.Read'])}\n`,
  );
}

async function main() {
  const provider = await startProvider();
  const home = new Home();
  const server = `sigil-shot-${process.pid}`;
  const tmux = (...args) => execFileSync('tmux', ['-L', server, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let browser;
  try {
    writeConfig(home, provider.address().port);
    home.startAgent();
    await home.sigil(['init', '--passphrase-stdin', '--scrypt-work-factor', '10'], PASSPHRASE + '\n');
    await home.sigil(['unlock', '--passphrase-stdin'], PASSPHRASE + '\n');
    await home.sigil(['token', 'set', 'github', 'work', '--stdin'], 'ghp_demo0000000000000000000000000000\n');
    await home.sigil(['token', 'set', 'openai', 'me', '--stdin', '--expires-in', '90d'], 'sk-demo000000000000\n');
    await home.sigil(['token', 'set', 'npm', 'publish', '--stdin'], 'npm_demo000000000000\n');
    await home.sigil(['accounts', 'add', 'spotify', 'personal', '--device', '--no-open']);
    await home.sigil(['accounts', 'add', 'microsoft', 'work', '--device', '--no-open']);
    await home.sigil(['token', 'refresh', 'microsoft', 'work'], '', [9]); // its grant was revoked: needs auth
    for (const [service, account] of [['spotify', 'personal'], ['github', 'work'], ['spotify', 'personal']]) {
      spawnSync(process.execPath, [join(ROOT, 'dist/bin/sigil-token.cjs'), service, account], { env: home.env });
    }
    await home.sigil(['lock']);

    const vars = Object.entries({ ...home.env, TERM: 'xterm-256color', COLORTERM: 'truecolor' })
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(' ');
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 't', '-x', String(COLS), '-y', String(ROWS), `env -u CI ${vars} ${quote(process.execPath)} ${quote(join(ROOT, 'dist/bin/sigil.js'))} tui`);
    const screen = () => tmux('capture-pane', '-p', '-e', '-t', 't');
    const waitFor = async (re) => {
      for (let i = 0; i < 300; i++) {
        const s = screen();
        if (re.test(s.replace(/\x1b\[[0-9;]*m/g, ''))) return s;
        await sleep(30);
      }
      throw new Error(`the TUI never showed ${re}:\n${screen()}`);
    };
    await waitFor(/Passphrase:/);
    tmux('send-keys', '-t', 't', '-l', PASSPHRASE);
    tmux('send-keys', '-t', 't', 'Enter');
    await waitFor(/spotify\s+personal/);
    await sleep(300); // the status bar's first poll
    const shots = { 'tui-accounts': screen() };
    tmux('send-keys', '-t', 't', '2'); // the audit log
    await waitFor(/unlock/);
    await sleep(300);
    shots['tui-audit'] = screen();
    tmux('send-keys', '-t', 't', 'q');

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    // Nothing leaves the machine: the page is inline, and any other request is refused.
    await page.route('**/*', (route) => route.abort());
    mkdirSync(opt.out, { recursive: true });
    for (const [name, captured] of Object.entries(shots)) {
      await page.setContent(screenToHtml(captured, { cols: COLS, rows: ROWS, title: name }));
      const file = join(opt.out, `${name}.png`);
      await page.locator('#frame').screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
  } finally {
    await browser?.close();
    try {
      tmux('kill-server');
    } catch {
      // not started
    }
    home.cleanup();
    provider.close();
  }
}

await main();
