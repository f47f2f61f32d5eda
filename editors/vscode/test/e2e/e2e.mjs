#!/usr/bin/env node
// End-to-end test of the Tide extension in real VS Code (the copy bundled in code-server), driven
// by playwright-core and Debian's Chromium.
//
// Modes (TIDE_E2E_MODE, default "auto"):
//   smoke  no server: install the .vsix, open the workbench, see the extension's status bar item
//          and its "server not found" notification.
//   full   against the real tide-lsp: type in a Python file, wait for Tide's ghost text, accept it
//          with Tab and check the saved file; toggle completions from the status bar; apply a Tide
//          quick fix from the lightbulb (skipped, with the reason, while the server advertises no
//          codeActionProvider); then the team checks below.
//   team   against the real tide-lsp, without the local model: only the team checks. tide.model
//          is the URL of a fake completion server in this script that records each request's
//          Authorization header (401 without the right key); "Tide: Set Team Server API Key"
//          types a key into the password box, and the restarted server must send it as
//          `Bearer <key>` to that URL and have it as TIDE_API_KEY in its process environment
//          (/proc/<pid>/environ), while no settings file and no log (the extension's, the
//          server's) holds it; "Tide: Clear Team Server API Key" restarts it without the key.
//   nextedit  no real server: only the next-edit checks, against a fake LSP server
//          (editors/testing/fake_next_edit_lsp.py, run by the Python next to TIDE_LSP, which has
//          pygls) that always proposes an edit: the edit is drawn after typing (struck-through
//          old text, new text after it), didShowInlineEdit is sent, Tab jumps to it then applies
//          it (the saved file is checked), Escape dismisses one, a stale answer is dropped (the
//          extension's log says so), ghost text at the cursor wins on its line (Tab takes the
//          ghost text, then the edit shows), with tide.nextEdit.enabled off an edit asks nothing
//          and "Tide: Suggest next edit" still does. Smoke and full modes run these checks last
//          (skipped, with the reason, when that Python has no pygls). Full mode also checks,
//          against the real server, that an edit makes the extension ask for a next edit and
//          that it takes the answer (an edit or none) without an error.
//   auto   full when `tide-lsp --help` works, else smoke.
//
// Environment: CODE_SERVER (the code-server binary), CHROMIUM (default /usr/bin/chromium),
// TIDE_LSP (default <repo>/.venv/bin/tide-lsp), TIDE_VSIX (default <ext>/tide.vsix),
// TIDE_E2E_TIMEOUT_S (per wait for the model; default 180). Screenshots and results.json go to
// TIDE_E2E_RESULTS, default
// editors/vscode/test-results/.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const extDir = path.resolve(here, '..', '..');
const repo = path.resolve(extDir, '..', '..');
const results = process.env.TIDE_E2E_RESULTS ? path.resolve(process.env.TIDE_E2E_RESULTS) : path.join(extDir, 'test-results');
const CODE_SERVER = process.env.CODE_SERVER ?? path.join(os.homedir(), '.cache/tide/editors/code-server/node_modules/.bin/code-server');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIDE_LSP = process.env.TIDE_LSP ?? path.join(repo, '.venv', 'bin', 'tide-lsp');
// The fake next-edit server is a pygls server: the server's own venv has pygls.
const PYTHON = path.join(path.dirname(TIDE_LSP), 'python');
const VSIX = process.env.TIDE_VSIX ?? path.join(extDir, 'tide.vsix');
const WAIT_MS = Number(process.env.TIDE_E2E_TIMEOUT_S ?? 180) * 1000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const checks = [];
let shotNo = 0;
const t0 = Date.now();

function logLine(msg) {
  console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

function record(name, status, detail = '') {
  checks.push({ name, status, detail });
  logLine(`${status.toUpperCase()} ${name}${detail ? `: ${detail}` : ''}`);
}

async function shot(page, name) {
  shotNo += 1;
  const file = path.join(results, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  logLine(`screenshot ${path.relative(repo, file)}`);
  return path.relative(repo, file);
}

function serverWorks() {
  if (!fs.existsSync(TIDE_LSP)) {
    return false;
  }
  const r = spawnSync(TIDE_LSP, ['--help'], { timeout: 60_000, encoding: 'utf8' });
  return r.status === 0;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The server's capabilities from an `initialize` round trip (then shutdown and exit). */
function probeCapabilities(timeoutMs = 60_000) {
  return new Promise((resolve) => {
    const child = spawn(TIDE_LSP, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(undefined);
    }, timeoutMs);
    const send = (msg) => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
      child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
      child.stdin.write(body);
    };
    child.stdout.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const headerEnd = buf.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const m = /Content-Length: (\d+)/i.exec(buf.subarray(0, headerEnd).toString());
        const len = Number(m?.[1] ?? 0);
        if (buf.length < headerEnd + 4 + len) return;
        const msg = JSON.parse(buf.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8'));
        buf = buf.subarray(headerEnd + 4 + len);
        if (msg.id === 1) {
          clearTimeout(timer);
          send({ id: 2, method: 'shutdown' });
          setTimeout(() => {
            send({ method: 'exit' });
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }, 200);
          resolve(msg.result?.capabilities);
        }
      }
    });
    child.on('error', () => resolve(undefined));
    send({
      id: 1,
      method: 'initialize',
      params: { processId: process.pid, rootUri: null, capabilities: {}, clientInfo: { name: 'tide-e2e-probe' } },
    });
  });
}

async function waitFor(fn, timeoutMs, intervalMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return last;
}

function norm(s) {
  return s.replace(/\u00a0/g, ' ').replace(/\u200b|\u200c/g, '');
}

/** Tide's own status bar item (its id ends in the item id given in the extension). */
function statusItem(page) {
  return page.locator('.statusbar-item[id$="tide.status"]').first();
}

async function statusText(page) {
  const el = statusItem(page);
  return (await el.count()) ? norm(await el.innerText()).trim() : '';
}

/** The ghost text currently shown in the active editor, or '' (first line, then further lines). */
async function ghostText(page) {
  return page.evaluate(() => {
    const editor = document.querySelector('.editor-instance .monaco-editor.focused') ?? document.querySelector('.editor-instance .monaco-editor');
    if (!editor) return '';
    const inline = [...editor.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview')].map((e) => e.textContent ?? '').join('');
    const more = [...editor.querySelectorAll('.ghost-text .view-line, .ghost-text-view-line')].map((e) => e.textContent ?? '');
    return [inline, ...more].filter((x) => x.length > 0).join('\n');
  });
}

async function openFile(page, name) {
  const tab = page.locator(`.tab.active[aria-label*="${name}"], .tab.active:has-text("${name}")`);
  for (let attempt = 1; attempt <= 3; attempt++) {
    // The explorer's row first; Quick Open (Ctrl+P) when the explorer is not there.
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
    if (await row.count()) {
      await row.dblclick();
    } else {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 10_000 }).catch(() => {});
      await page.keyboard.type(name, { delay: 20 });
      await page.waitForTimeout(800);
      await page.keyboard.press('Enter');
    }
    try {
      await tab.waitFor({ state: 'visible', timeout: 15_000 });
      await page.click('.editor-instance .monaco-editor .view-lines');
      return;
    } catch (err) {
      logLine(`opening ${name}: attempt ${attempt} failed (${String(err).split('\n')[0]})`);
      await page.keyboard.press('Escape');
    }
  }
  throw new Error(`could not open ${name}`);
}

/**
 * A stand-in for a team's completion server: records every request's path and Authorization
 * header, answers 401 without `Bearer <key>`, and a model list with it (enough for the engine's
 * probe; completions are not the point here).
 */
async function startTeamServer(key) {
  const requests = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    const auth = req.headers.authorization ?? '';
    requests.push({ at: Date.now(), method: req.method, path: req.url, auth });
    res.setHeader('content-type', 'application/json');
    if (auth !== `Bearer ${key}`) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: { message: 'invalid api key', type: 'authentication_error' } }));
    } else if (req.url === '/v1/models') {
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'qwen2.5-coder-0.5b', object: 'model' }] }));
    } else if (req.url === '/health') {
      res.end(JSON.stringify({ status: 'ok' }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { message: 'not found' } }));
    }
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  srv.unref();
  return { url: `http://127.0.0.1:${srv.address().port}`, requests, close: () => srv.close() };
}

/** The environments of the running tide-lsp processes started with this run's log file. */
function serverProcessEnvs(logFile) {
  const envs = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline.some((a) => a.endsWith('tide-lsp')) || !cmdline.includes(logFile)) continue;
      const env = {};
      for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
        const i = kv.indexOf('=');
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      envs.push({ pid: Number(pid), env });
    } catch {
      // Gone, or not ours.
    }
  }
  return envs.sort((a, b) => a.pid - b.pid);
}

/** Files below `dir` (recursively) whose text contains `needle`. */
function filesContaining(dir, needle) {
  const hits = [];
  let scanned = 0;
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        scanned += 1;
        if (fs.readFileSync(p).includes(needle)) hits.push(p);
      }
    }
  };
  walk(dir);
  return { hits, scanned };
}

async function runCommand(page, title) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(title, { delay: 20 });
  await page.waitForTimeout(800);
  await page.keyboard.press('Enter');
}

/**
 * The team server's API key: stored with the command, given to the restarted server only in its
 * environment, sent as a bearer header to the configured URL, in no settings file or log; cleared
 * with the other command.
 */
async function teamChecks(page, { team, key, userDir, ws, settings, logFile }) {
  writeSettings(userDir, { ...settings, 'tide.model': team.url, 'tide.serverTimeout': 5 });
  const unauthorised = await waitFor(async () => team.requests.find((r) => r.auth === ''), WAIT_MS, 500);
  record(
    'without a key the team server is asked with no Authorization header',
    unauthorised && !team.requests.some((r) => r.auth.includes(key)) ? 'pass' : 'fail',
    `${JSON.stringify(team.requests.slice(0, 3))}; status bar ${JSON.stringify(await statusText(page))}`,
  );
  await shot(page, 'team-server-no-key');

  const setAt = Date.now();
  await runCommand(page, 'Tide: Set Team Server API Key');
  const box = page.locator('.quick-input-widget input[type="password"]');
  const asked = await box.waitFor({ state: 'visible', timeout: 15_000 }).then(() => true, () => false);
  record('"Tide: Set Team Server API Key" asks in a password box', asked ? 'pass' : 'fail');
  await shot(page, 'team-api-key-box');
  if (!asked) return;
  await page.keyboard.type(key, { delay: 10 });
  await page.keyboard.press('Enter');
  const authorised = await waitFor(async () => team.requests.find((r) => r.at >= setAt && r.auth === `Bearer ${key}`), WAIT_MS, 500);
  record(
    'the restarted server sends the stored key to the configured URL as a bearer token',
    authorised ? 'pass' : 'fail',
    authorised ? `${authorised.method} ${authorised.path}` : JSON.stringify(team.requests.slice(-3).map((r) => ({ ...r, auth: r.auth ? '<set>' : '' }))),
  );
  const envs = serverProcessEnvs(logFile);
  const newest = envs[envs.length - 1];
  record(
    'the server process has the key as TIDE_API_KEY in its environment',
    newest?.env.TIDE_API_KEY === key ? 'pass' : 'fail',
    envs.map((e) => `pid ${e.pid}: TIDE_API_KEY ${e.env.TIDE_API_KEY === key ? 'is the key' : e.env.TIDE_API_KEY === undefined ? 'unset' : 'other'}`).join('; '),
  );
  // The fake server answers the keyed probe, so the engine that was refused is ready now.
  const readyWithKey = await waitFor(async () => /ready/.test(await statusText(page)), 30_000);
  record('with the key the status bar says ready', readyWithKey ? 'pass' : 'fail', await statusText(page));
  await shot(page, 'team-api-key-set');

  // Nowhere on disk but the secret store: no settings file, no log. The extension's log (its
  // output channel's file below the user data dir's logs) must exist, and say where the key is from.
  const places = [path.join(userDir, 'User'), path.join(userDir, 'Machine'), path.join(userDir, 'logs'), ws, path.dirname(logFile)];
  const found = places.map((d) => filesContaining(d, key));
  const hits = found.flatMap((f) => f.hits);
  const tideLogs = filesContaining(path.join(userDir, 'logs'), "team server API key: from Tide's secret storage");
  record(
    'the key is in no settings file and no log',
    hits.length === 0 && tideLogs.hits.length > 0 ? 'pass' : 'fail',
    `${found.reduce((n, f) => n + f.scanned, 0)} files scanned; key found in ${JSON.stringify(hits)}; Tide's log: ${JSON.stringify(tideLogs.hits.map((h) => path.relative(userDir, h)))}`,
  );

  const clearedAt = Date.now();
  await runCommand(page, 'Tide: Clear Team Server API Key');
  const cleared = await waitFor(
    async () => {
      const envs2 = serverProcessEnvs(logFile);
      const last = envs2[envs2.length - 1];
      return last && last.pid !== newest?.pid && last.env.TIDE_API_KEY === undefined && team.requests.some((r) => r.at >= clearedAt && r.auth === '');
    },
    WAIT_MS,
    500,
  );
  record('"Tide: Clear Team Server API Key" restarts the server without the key', cleared ? 'pass' : 'fail');
  await shot(page, 'team-api-key-cleared');
}


// Next-edit checks: the extension against a fake LSP server (editors/testing/fake_next_edit_lsp.py)
// that always proposes replacing the last `items` with `products`, and gives ghost text after
// `ghost`; it records every message, didShowInlineEdit among them.
const FAKE_NEXT_EDIT = path.resolve(extDir, '..', 'testing', 'fake_next_edit_lsp.py');
const NEXT_EDIT_FILES = {
  'nextedit.py':
    'def total(product):\n    result = 0\n    for item in products:\n        result += item.price\n    return result\n\n\ndef count(items):\n    return len(items)\n',
  'stale.py': '# nextedit: stale\nvalue = 1\nprint(items)\n',
  'ghost.py': 'count = len(items)  # ghos',
};

/**
 * The active editor's rendered lines, decorations' text included (VS Code draws a decoration's
 * `after` text as a CSS ::after of the span it follows), and the text of its struck-through spans.
 */
async function editorView(page) {
  return page.evaluate(() => {
    const editor = document.querySelector('.editor-instance .monaco-editor.focused') ?? document.querySelector('.editor-instance .monaco-editor');
    if (!editor) return { lines: [], struck: [] };
    const clean = (t) => (t ?? '').replace(/\u00a0/g, ' ');
    const pseudo = (e, which) => {
      const c = getComputedStyle(e, which).content;
      return c && c.startsWith('"') ? c.slice(1, -1).replace(/\\(.)/g, '$1') : '';
    };
    const lineText = (l) =>
      [...l.querySelectorAll('span')]
        .filter((e) => e.children.length === 0)
        .map((e) => pseudo(e, '::before') + e.textContent + pseudo(e, '::after'))
        .join('');
    const rows = [...editor.querySelectorAll('.view-lines .view-line')]
      .map((l) => ({ top: parseFloat(l.style.top || '0'), text: clean(lineText(l)) }))
      .sort((a, b) => a.top - b.top);
    const struck = [...editor.querySelectorAll('.view-lines .view-line span')]
      .filter((e) => e.children.length === 0 && getComputedStyle(e).textDecorationLine.includes('line-through'))
      .map((e) => clean(e.textContent));
    return { lines: rows.map((r) => r.text), struck };
  });
}

/** "Ln 9, Col 16" from the status bar, as [line, column] (1-based), or undefined. */
async function cursorPosition(page) {
  const el = page.locator('.statusbar-item[id="status.editor.selection"]').first();
  if (!(await el.count())) return undefined;
  const m = /Ln (\d+), Col (\d+)/.exec(norm(await el.innerText()));
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function recorded(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).messages;
  } catch {
    return [];
  }
}

/** The lines of the workbench's logs (Tide's output channel among them) that contain `needle`. */
function logLines(userDir, needle) {
  const lines = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) lines.push(...fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.includes(needle)));
    }
  };
  walk(path.join(userDir, 'logs'));
  return lines;
}

function hasPygls() {
  return fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import pygls'], { timeout: 60_000 }).status === 0;
}

async function nextEditChecks(page, { userDir, ws, settings }) {
  if (!hasPygls()) {
    record('next-edit checks against the fake server', 'skip', `${PYTHON} has no pygls (make demo builds the venv)`);
    return;
  }
  for (const [name, text] of Object.entries(NEXT_EDIT_FILES)) fs.writeFileSync(path.join(ws, name), text);
  const recordFile = path.join(results, 'fake-next-edit-record.json');
  fs.rmSync(recordFile, { force: true });
  const fakeSettings = {
    ...settings,
    'tide.server.command': PYTHON,
    'tide.server.args': [FAKE_NEXT_EDIT, recordFile],
    'tide.nextEdit.debounceMs': 300,
  };
  writeSettings(userDir, fakeSettings);
  const started = await waitFor(async () => recorded(recordFile).some((m) => m.method === 'initialized'), 60_000);
  record('the extension starts the fake next-edit server', started ? 'pass' : 'fail');
  if (!started) return;
  const uriOf = (name) => `file://${path.join(ws, name)}`;
  const shown = (name) => recorded(recordFile).filter((m) => m.method === 'textDocument/didShowInlineEdit' && m.params?.item?.textDocument?.uri === uriOf(name));
  const asked = (name, minVersion) =>
    recorded(recordFile).filter((m) => m.method === 'textDocument/copilotInlineEdit' && m.params.textDocument.uri === uriOf(name) && m.params.textDocument.version >= minVersion);
  // Saves until the file holds `want` (an edit is applied asynchronously, so one save can come
  // before it); what the file holds at the end.
  const saveUntil = async (name, want) => {
    let t = '';
    await waitFor(async () => {
      await page.keyboard.press('Control+S');
      t = fs.readFileSync(path.join(ws, name), 'utf8');
      return t === want;
    }, 10_000);
    return t;
  };

  // 1. An edit after typing: drawn next to what it replaces, reported, Tab jumps then accepts.
  await openFile(page, 'nextedit.py');
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.type('s', { delay: 50 });
  const drawn = await waitFor(async () => {
    const v = await editorView(page);
    return v.lines.some((l) => l.includes('return len(itemsproducts)')) && v.struck.includes('items') ? v : undefined;
  }, 20_000);
  await shot(page, 'next-edit-shown');
  record(
    'a next edit is drawn after typing: the replaced text struck through, the new text after it',
    drawn ? 'pass' : 'fail',
    JSON.stringify(drawn ?? (await editorView(page))),
  );
  const report = await waitFor(async () => shown('nextedit.py')[0], 10_000);
  record(
    'didShowInlineEdit is sent with the shown edit',
    report?.params.item.text === 'products' && report.params.item.range.start.line === 8 ? 'pass' : 'fail',
    JSON.stringify(report?.params),
  );
  const askedFirst = asked('nextedit.py', 2)[0];
  record(
    'the request carries the document version and the cursor',
    askedFirst && askedFirst.params.position.line === 0 && askedFirst.params.position.character === 18 ? 'pass' : 'fail',
    JSON.stringify(askedFirst?.params),
  );
  const before = await cursorPosition(page);
  await page.keyboard.press('Tab');
  const jumped = await waitFor(async () => {
    const p = await cursorPosition(page);
    return p && p[0] === 9 && p[1] === 16 ? p : undefined;
  }, 5000);
  record('Tab far from the edit jumps to it', jumped ? 'pass' : 'fail', `cursor ${JSON.stringify(before)} -> ${JSON.stringify(await cursorPosition(page))}`);
  await page.keyboard.press('Tab');
  const want = NEXT_EDIT_FILES['nextedit.py'].replace('total(product)', 'total(products)').replace('len(items)', 'len(products)');
  const accepted = await saveUntil('nextedit.py', want);
  await shot(page, 'next-edit-accepted');
  record('Tab on the edit applies it: the file is right', accepted === want ? 'pass' : 'fail', JSON.stringify(accepted));

  // 2. The next one (count(items)) shows; Escape dismisses it and the text stays.
  const second = await waitFor(async () => (await editorView(page)).lines.some((l) => l.includes('count(itemsproducts)')), 20_000);
  await page.keyboard.press('Escape');
  const gone = await waitFor(async () => {
    const v = await editorView(page);
    return !v.lines.some((l) => l.includes('itemsproducts')) && v.struck.length === 0;
  }, 5000);
  await shot(page, 'next-edit-dismissed');
  const dismissedText = await saveUntil('nextedit.py', want);
  record(
    'Escape dismisses a shown edit and leaves the text',
    second && gone && dismissedText === want ? 'pass' : 'fail',
    `shown ${!!second}; ${JSON.stringify(await editorView(page))}`,
  );

  // 3. A stale answer (for an older version) is dropped: the log says so, never drawn or reported.
  await openFile(page, 'stale.py');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('x = 2', { delay: 40 });
  const staleLog = await waitFor(async () => logLines(userDir, `next edit answered for ${uriOf('stale.py')}`).find((l) => /: stale: the edit is for version/.test(l)), 20_000);
  const staleView = await editorView(page);
  await shot(page, 'next-edit-stale-dropped');
  record(
    'a stale answer is dropped',
    staleLog && asked('stale.py', 2).length > 0 && shown('stale.py').length === 0 && staleView.struck.length === 0 && !staleView.lines.some((l) => l.includes('itemsproducts'))
      ? 'pass'
      : 'fail',
    `log ${JSON.stringify(staleLog)}; shown ${JSON.stringify(shown('stale.py'))}; ${JSON.stringify(staleView)}`,
  );

  // 4. Ghost text at the cursor wins over an edit on the cursor's line; Tab takes the ghost text.
  await openFile(page, 'ghost.py');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('t', { delay: 40 });
  const ghost = await waitFor(async () => norm(await ghostText(page)), 15_000);
  const hiddenLog = await waitFor(async () => logLines(userDir, `next edit for ${uriOf('ghost.py')} hidden: ghost text at the cursor wins`)[0], 20_000);
  const ghostView = await editorView(page);
  await shot(page, 'next-edit-ghost-wins');
  record(
    'ghost text at the cursor wins: no edit on the cursor line',
    ghost === '_hint = 1' && hiddenLog && shown('ghost.py').length === 0 && ghostView.struck.length === 0 && norm(await ghostText(page)) === '_hint = 1' ? 'pass' : 'fail',
    `ghost ${JSON.stringify(ghost)}; log ${JSON.stringify(hiddenLog)}; shown ${JSON.stringify(shown('ghost.py'))}; ${JSON.stringify(ghostView)}`,
  );
  await page.keyboard.press('Tab');
  const ghostFile = await saveUntil('ghost.py', 'count = len(items)  # ghost_hint = 1');
  const after = await waitFor(async () => shown('ghost.py').length > 0 && (await editorView(page)).struck.includes('items'), 15_000);
  await shot(page, 'next-edit-after-ghost');
  record(
    'Tab accepts the ghost text; then the edit on that line shows',
    ghostFile === 'count = len(items)  # ghost_hint = 1' && after ? 'pass' : 'fail',
    `file ${JSON.stringify(ghostFile)}; ${JSON.stringify(await editorView(page))}`,
  );

  // 5. tide.nextEdit.enabled off: an edit asks nothing; the command still asks. The automatic
  // request would come a debounce after the typing, before the command palette is through.
  writeSettings(userDir, { ...fakeSettings, 'tide.nextEdit.enabled': false });
  const off = await waitFor(async () => logLines(userDir, 'next edit suggestions off (tide.nextEdit.enabled)').length > 0, 20_000);
  const count = asked('ghost.py', 0).length;
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nz = 3', { delay: 40 });
  await runCommand(page, 'Tide: Suggest next edit');
  const explicit = await waitFor(async () => asked('ghost.py', 0).length > count, 15_000);
  const requests = asked('ghost.py', 0).slice(count);
  record(
    'with tide.nextEdit.enabled off typing asks nothing, "Tide: Suggest next edit" asks once',
    off && explicit && requests.length === 1 && requests[0].params.position.line === 1 && requests[0].params.position.character === 5 ? 'pass' : 'fail',
    `setting seen off ${off}; requests after typing ${JSON.stringify(requests.map((m) => m.params))}`,
  );
}

/**
 * Against the real server: an edit makes the extension ask for a next edit, the server answers
 * it (its log says what it offered, if anything), and the extension takes the answer, an edit or
 * none, without an error.
 */
async function nextEditRealCheck(page, { userDir, ws, logFile }) {
  const name = 'shapes.py';
  const uri = `file://${path.join(ws, name)}`;
  fs.writeFileSync(path.join(ws, name), 'def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n');
  await openFile(page, name);
  // Rename the first parameter; the uses below are the next edit a model could propose.
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('End');
  for (let i = 0; i < 'width, height):'.length; i++) await page.keyboard.press('ArrowLeft');
  for (let i = 0; i < 'width'.length; i++) await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.type('w', { delay: 60 });
  const served = await waitFor(
    async () => {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return text.split('\n').find((l) => l.includes(`next edit for ${uri}`));
    },
    WAIT_MS,
    1000,
  );
  const taken = await waitFor(async () => logLines(userDir, `next edit answered for ${uri}`)[0], 30_000);
  const failed = logLines(userDir, `next edit for ${uri} failed`);
  await shot(page, 'next-edit-real-server');
  record(
    'against the real server an edit asks for a next edit and the answer is taken without an error',
    served && taken && failed.length === 0 ? 'pass' : 'fail',
    `server: ${JSON.stringify(served)}; extension: ${JSON.stringify(taken)}; errors ${JSON.stringify(failed)}`,
  );
}

function writeSettings(userDir, settings) {
  // code-server is a remote setup: machine-scoped settings (tide.server.*) are read from the
  // Machine settings, the rest from the User settings.
  for (const scope of ['User', 'Machine']) {
    const dir = path.join(userDir, scope);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
  }
}

async function main() {
  fs.mkdirSync(results, { recursive: true });
  for (const f of fs.readdirSync(results)) {
    // Files only: a subfolder may hold another run's results (e.g. fake-server/).
    if (fs.statSync(path.join(results, f)).isFile()) fs.rmSync(path.join(results, f));
  }
  let mode = process.env.TIDE_E2E_MODE ?? 'auto';
  if (mode === 'auto') mode = serverWorks() ? 'full' : 'smoke';
  logLine(`mode ${mode}; code-server ${CODE_SERVER}; server ${TIDE_LSP}`);
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run make vsix`);
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`${CODE_SERVER} is missing: run make editors-deps`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tide-vscode-e2e-'));
  const userDir = path.join(tmp, 'user-data');
  const extensionsDir = path.join(tmp, 'extensions');
  const ws = path.join(tmp, 'workspace');
  fs.mkdirSync(ws, { recursive: true });
  const exampleText = 'import math\n\n\ndef circle_area(radius):\n    """Return the area of a circle with the given radius."""';
  fs.writeFileSync(path.join(ws, 'circle.py'), exampleText);
  // The lightbulb fixes line 1 of broken.py (the model may repair its second error too);
  // "Tide: Fix at cursor" fixes line 5 of typo.py.
  const brokenText = 'def greet(name)\n    print("hello", name)\n\n\nclass Greeter\n    pass\n\n\ngreet("world")\n';
  fs.writeFileSync(path.join(ws, 'broken.py'), brokenText);
  const typoText = 'def area(w, h):\n    return w * h\n\n\nprint(area(2, 3)\n';
  fs.writeFileSync(path.join(ws, 'typo.py'), typoText);
  const key = `tide-e2e-${crypto.randomBytes(12).toString('hex')}`;
  const team = await startTeamServer(key);
  const logFile = path.join(results, 'tide-lsp.log');

  const out = execFileSync(CODE_SERVER, ['--user-data-dir', userDir, '--extensions-dir', extensionsDir, '--install-extension', VSIX], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  logLine(out.trim().split('\n').pop());
  const listed = execFileSync(CODE_SERVER, ['--user-data-dir', userDir, '--extensions-dir', extensionsDir, '--list-extensions', '--show-versions'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  record('vsix installs into code-server', /^tide\.tide@/m.test(listed) ? 'pass' : 'fail', listed.trim());

  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.panel.defaultLocation': 'bottom',
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'chat.disableAIFeatures': true,
    'window.restoreWindows': 'none',
    'editor.minimap.enabled': false,
    'editor.inlineSuggest.enabled': true,
    // The suggest widget would take Tab; this test is about ghost text.
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    'editor.suggestOnTriggerCharacters': false,
    'editor.lightbulb.enabled': 'on',
    'files.autoSave': 'off',
    'tide.server.command': mode === 'smoke' || mode === 'nextedit' ? 'tide-lsp' : TIDE_LSP,
    'tide.server.args': mode === 'smoke' || mode === 'nextedit' ? [] : ['--log-file', logFile],
  };
  // Team mode never loads the local model: the server is pointed at the fake team server at once.
  writeSettings(userDir, mode === 'team' ? { ...settings, 'tide.model': team.url } : settings);

  const port = await freePort();
  const configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  // PATH without the repo's venv: in smoke mode the extension must not find the server.
  // No TIDE_API_KEY: the team checks need a server that has no key until the command gives one.
  const env = { ...process.env, PATH: (process.env.PATH ?? '').split(':').filter((p) => !p.includes('.venv')).join(':') };
  delete env.TIDE_API_KEY;
  const cs = spawn(
    CODE_SERVER,
    [
      '--config', configFile,
      '--user-data-dir', userDir,
      '--extensions-dir', extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      ws,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: false },
  );
  const csLog = fs.createWriteStream(path.join(results, 'code-server.log'));
  cs.stdout.pipe(csLog);
  cs.stderr.pipe(csLog);
  let context;
  try {
    const up = await waitFor(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        return r.ok;
      } catch {
        return false;
      }
    }, 60_000);
    if (!up) throw new Error('code-server did not come up within 60 s');
    logLine(`code-server up on port ${port}`);

    const profile = path.join(tmp, 'chromium-profile');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 860 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    await page.waitForSelector('.statusbar', { timeout: 60_000 });
    const item = await waitFor(async () => statusText(page), 90_000);
    record('status bar item shows Tide', item ? 'pass' : 'fail', item);

    if (mode === 'smoke') {
      const note = await waitFor(async () => {
        const n = page.locator('.notification-toast', { hasText: 'was not found' });
        return (await n.count()) ? norm(await n.first().innerText()) : '';
      }, 60_000);
      record('server-not-found notification says how to install', /pip install -e \./.test(note) ? 'pass' : 'fail', note.replace(/\s+/g, ' '));
      await shot(page, 'smoke-extension-installed');
      await nextEditChecks(page, { userDir, ws, settings });
      return;
    }
    if (mode === 'nextedit') {
      await nextEditChecks(page, { userDir, ws, settings });
      return;
    }
    const teamArgs = { team, key, userDir, ws, settings, logFile };
    if (mode === 'team') {
      await teamChecks(page, teamArgs);
      return;
    }

    // Full mode: wait for the model (status bar says ready), then complete; the team checks last.
    completions: {
      await openFile(page, 'circle.py');
      await shot(page, 'opened-circle-py');
      // Model download/load progress shows as a notification; the real model may load too fast
      // for it to be seen, so this is observed, not required.
      let progressSeen = '';
      const ready = await waitFor(async () => {
        if (!progressSeen) {
          const toast = page.locator('.notification-toast', { hasText: 'Tide:' }).filter({ hasNotText: 'was not found' });
          if (await toast.count()) {
            progressSeen = norm(await toast.first().innerText()).replace(/\s+/g, ' ');
            await shot(page, 'progress-notification');
          }
        }
        const s = await statusText(page);
        if (/stopped|error/.test(s)) throw new Error(`the status bar says ${JSON.stringify(s)}; see the Tide log (TIDE_E2E_KEEP=1 keeps ${tmp})`);
        return /ready/.test(s);
      }, WAIT_MS, 1000);
      record('status bar reaches ready', ready ? 'pass' : 'fail', await statusText(page));
      record(
        'model load progress shows as a notification',
        progressSeen ? 'pass' : 'skip',
        progressSeen || 'not seen (the model was ready before a notification showed)',
      );
      await shot(page, 'status-ready');

      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('return', { delay: 60 });
      let ghost = await waitFor(async () => norm(await ghostText(page)), 20_000);
      // An automatic request can come back empty (e.g. mid-typing): ask explicitly, a few times.
      for (let i = 0; !ghost && i < 6; i++) {
        logLine('no ghost text yet; Tide: Trigger completion (Alt+\\)');
        await page.keyboard.press('Alt+Backslash');
        ghost = await waitFor(async () => norm(await ghostText(page)), 25_000);
      }
      record('ghost text appears after typing', ghost ? 'pass' : 'fail', JSON.stringify(ghost));
      await shot(page, 'ghost-text');
      if (!ghost) break completions;
      const statusAfter = await waitFor(async () => {
        const s = await statusText(page);
        return /\d+(\.\d+)? (ms|s)/.test(s) ? s : '';
      }, 10_000);
      record('status bar shows the last completion latency', statusAfter ? 'pass' : 'fail', statusAfter || (await statusText(page)));

      await page.keyboard.press('Tab');
      await page.waitForTimeout(500);
      const ghostAfterTab = norm(await ghostText(page));
      await page.keyboard.press('Control+S');
      const file = path.join(ws, 'circle.py');
      const saved = await waitFor(async () => {
        const t = fs.readFileSync(file, 'utf8');
        return t !== exampleText ? t : '';
      }, 15_000);
      await shot(page, 'accepted-with-tab');
      const firstGhostLine = ghost.split('\n')[0];
      const expectedStart = `${exampleText}\n    return${firstGhostLine}`;
      const ok = saved.startsWith(expectedStart) && saved.length > `${exampleText}\n    return`.length;
      record(
        'Tab inserts the ghost text into the buffer',
        ok ? 'pass' : 'fail',
        `saved tail ${JSON.stringify(saved.slice(exampleText.length))}; ghost ${JSON.stringify(ghost)}; ghost after Tab ${JSON.stringify(ghostAfterTab)}`,
      );

      // Clicking the status bar item toggles completions.
      const before = await statusText(page);
      await statusItem(page).click();
      const off = await waitFor(async () => /\boff\b/.test(await statusText(page)), 10_000);
      await shot(page, 'status-toggled-off');
      await statusItem(page).click();
      const on = await waitFor(async () => /ready/.test(await statusText(page)), 10_000);
      record('status bar click toggles completions off and on', off && on ? 'pass' : 'fail', `${before} -> off -> ${await statusText(page)}`);

      // Quick fix from the lightbulb.
      const caps = await probeCapabilities();
      if (!caps?.codeActionProvider) {
        record('quick fix from the lightbulb', 'skip', 'the server does not advertise codeActionProvider yet');
        break completions;
      }
      await openFile(page, 'broken.py');
      const squiggle = await waitFor(async () => (await page.locator('.editor-instance .squiggly-error').count()) > 0, WAIT_MS, 1000);
      record('Tide diagnostic appears on the syntax error', squiggle ? 'pass' : 'fail');
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('End');
      await shot(page, 'broken-with-diagnostic');
      // The lightbulb: a content widget (.lightBulbWidget, with the codicon class on itself) or,
      // when it would cover text, a glyph in the gutter.
      const bulbs = () =>
        page
          .locator('.lightBulbWidget, [class*="lightbulb-glyph"], .codicon-light-bulb, .codicon-lightbulb-autofix')
          .filter({ visible: true });
      let bulb = await waitFor(async () => (await bulbs().count()) > 0, 30_000);
      if (!bulb) {
        // The lightbulb shows for the cursor's position; nudge the cursor to make it re-evaluate.
        await page.keyboard.press('Home');
        await page.keyboard.press('End');
        bulb = await waitFor(async () => (await bulbs().count()) > 0, 30_000);
      }
      await shot(page, 'lightbulb');
      record('lightbulb shows on the line', bulb ? 'pass' : 'fail');
      if (bulb) {
        await bulbs().first().click();
      } else {
        logLine('no lightbulb seen; opening quick fixes with Ctrl+.');
        await page.keyboard.press('Control+Period');
      }
      const menu = await waitFor(async () => (await page.locator('.action-widget .monaco-list-row').count()) > 0, 30_000);
      await shot(page, 'quick-fix-menu');
      const titles = menu ? await page.locator('.action-widget .monaco-list-row').allInnerTexts() : [];
      record('lightbulb menu lists a fix', menu ? 'pass' : 'fail', JSON.stringify(titles.map(norm)));
      if (!menu) break completions;
      await page.keyboard.press('Enter');
      await page.waitForTimeout(1000);
      await page.keyboard.press('Control+S');
      const brokenFile = path.join(ws, 'broken.py');
      // The edit arrives when codeAction/resolve has run the model; save until the file changes.
      const fixed = await waitFor(async () => {
        await page.keyboard.press('Control+S');
        const t = fs.readFileSync(brokenFile, 'utf8');
        return t !== brokenText ? t : '';
      }, WAIT_MS, 1000);
      await shot(page, 'quick-fix-applied');
      const parses = (file, snippet) =>
        spawnSync('python3', ['-c', 'import ast,sys; ast.parse(sys.argv[1] if sys.argv[1] else open(sys.argv[2]).read())', snippet, file])
          .status === 0;
      const line1 = (fixed || '').split('\n')[0];
      record(
        'the lightbulb fix repairs line 1',
        fixed && parses(brokenFile, `${line1}\n    pass\n`) ? 'pass' : 'fail',
        JSON.stringify(fixed),
      );

      // "Tide: Fix at cursor" from the command palette, in another file.
      await openFile(page, 'typo.py');
      const typoFile = path.join(ws, 'typo.py');
      await page.keyboard.press('Control+G');
      await page.keyboard.type('5', { delay: 20 });
      await page.keyboard.press('Enter');
      await page.keyboard.press('End');
      await waitFor(async () => (await page.locator('.editor-instance .squiggly-error').count()) > 0, WAIT_MS, 1000);
      await page.keyboard.press('F1');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('Tide: Fix at cursor', { delay: 20 });
      await page.waitForTimeout(800);
      await shot(page, 'fix-at-cursor-command');
      await page.keyboard.press('Enter');
      const beforeFix2 = fs.readFileSync(typoFile, 'utf8');
      let fixed2 = '';
      for (let i = 0; i < WAIT_MS / 1000 && !fixed2; i++) {
        await page.waitForTimeout(1000);
        await page.keyboard.press('Control+S');
        const t = fs.readFileSync(typoFile, 'utf8');
        fixed2 = t !== beforeFix2 ? t : '';
      }
      await shot(page, 'fix-at-cursor-applied');
      // The fix for a missing bracket keeps what was typed: the call's arguments stay 2, 3.
      record(
        '"Tide: Fix at cursor" closes the bracket and the file parses',
        fixed2.includes('print(area(2, 3))') && parses(typoFile, '') ? 'pass' : 'fail',
        JSON.stringify(fixed2),
      );
    }
    await nextEditRealCheck(page, { userDir, ws, logFile });
    await teamChecks(page, teamArgs);
    await nextEditChecks(page, { userDir, ws, settings });
  } finally {
    if (context) await context.close().catch(() => {});
    team.close();
    cs.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    if (cs.exitCode === null) cs.kill('SIGKILL');
    fs.writeFileSync(path.join(results, 'results.json'), JSON.stringify({ mode, checks }, null, 2));
    if (!process.env.TIDE_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main()
  .catch((err) => {
    record('e2e run', 'fail', String(err?.stack ?? err));
  })
  .finally(() => {
    const pass = checks.filter((c) => c.status === 'pass').length;
    const fail = checks.filter((c) => c.status === 'fail').length;
    const skip = checks.filter((c) => c.status === 'skip').length;
    console.log(`vscode-e2e: ${pass} passed, ${fail} failed, ${skip} skipped`);
    process.exitCode = fail > 0 ? 1 : 0;
  });
