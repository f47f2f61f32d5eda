/**
 * Tide for VS Code: starts `tide-lsp` over stdio and wires its inline completions, quick fixes,
 * status and progress into the editor. Logic worth testing lives in the pure modules beside this
 * one (status, settings, serverCommand, serverEnv, fixes, progress, ready); this file only glues
 * them to VS Code.
 *
 * The team server's API key is kept in SecretStorage and given to the server only in its process
 * environment (`TIDE_API_KEY`), never in a setting, an LSP message or a log line: every line the
 * extension and its language client write to the log goes through `redactingChannel`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import * as lsp from 'vscode-languageclient/node';
import {
  ClientCapabilities,
  CodeActionRequest,
  CodeActionResolveRequest,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  FeatureState,
  LanguageClient,
  LanguageClientOptions,
  ServerCapabilities,
  ServerOptions,
  State,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import { applyWithoutAsking, FixCandidate, rankTideFixes } from './fixes';
import { NextEditController } from './nextEditView';
import { PercentTracker } from './progress';
import { parseReady, Place, samePlace } from './ready';
import { expandCommand, notFoundMessage, resolveServerCommand } from './serverCommand';
import {
  API_KEY_SECRET,
  apiKeyLogLine,
  apiKeySource,
  checkApiKey,
  redactingLog,
  secretsToHide,
  serverEnv,
} from './serverEnv';
import {
  affectsServer,
  completionsEnabledFor,
  didChangeConfigurationParams,
  ServerSettings,
  SERVER_KEYS,
  settingsUpdate,
  toggleLanguage,
  toServerSettings,
} from './settings';
import { formatStatus, mergeStatus, parseStatus, TideStatusParams } from './status';

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let lastStatus: TideStatusParams = { state: 'starting' };
let serverCaps: ServerCapabilities | undefined;
/** The settings the running server last received (initializationOptions or an update). */
let lastSent: ServerSettings | undefined;
/** The stored API key the running server was started with (undefined: none stored). */
let keyInUse: string | undefined;
/** Key changes, one at a time: each compares the stored key with `keyInUse` and restarts. */
let keyChanges: Promise<void> = Promise.resolve();
let nextEdits: NextEditController | undefined;
let ready: InlineCompletionReadyFeature | undefined;

/**
 * The log channel with every string (and error) that is written to it redacted of the API keys,
 * the stored one and the environment's; the language client writes through it too.
 */
function redactingChannel(channel: vscode.LogOutputChannel): vscode.LogOutputChannel {
  return redactingLog(channel, () => secretsToHide(process.env, keyInUse));
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('tide');
}

function currentSettings(): ServerSettings {
  const problems: string[] = [];
  const cfg = config();
  const settings = toServerSettings((k) => cfg.get(k), problems);
  for (const p of problems) {
    log.warn(`settings: ${p}; the server's default applies`);
  }
  return settings;
}

function renderStatus(): void {
  const view = formatStatus(lastStatus, config().get<boolean>('enable', true));
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.severity === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.severity === 'warning'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
  statusItem.show();
}

function setStatus(next: TideStatusParams): void {
  lastStatus = mergeStatus(lastStatus, next);
  renderStatus();
}

/**
 * Shows server-initiated work-done progress (model download and load) as a progress
 * notification. The languageclient's own progress feature shows it only in the status bar; this
 * feature is registered after it, so its `window/workDoneProgress/create` handler wins.
 */
/** Where the cursor is in the active editor, as the server names the document; undefined with
 * a selection or no editor. */
function placeNow(lc: LanguageClient): Place | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !editor.selection.isEmpty) {
    return undefined;
  }
  const { line, character } = editor.selection.active;
  const uri = lc.code2ProtocolConverter.asUri(editor.document.uri);
  return { uri, version: editor.document.version, line, character };
}

/**
 * Declares `experimental.tide.inlineCompletionReady` and answers the notice: when the rest of a
 * suggestion shown early is ready and the user has neither typed nor moved, VS Code asks again.
 * Its trigger command asks as if explicitly (the server would then rank alternatives, slowly),
 * so the request it brings is passed on as the automatic one it stands for.
 */
class InlineCompletionReadyFeature implements StaticFeature {
  private refreshing: Place | undefined;

  constructor(private readonly lc: LanguageClient) {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
    capabilities.experimental = { ...experimental, tide: { inlineCompletionReady: true } };
  }

  initialize(): void {
    this.lc.onNotification('tide/inlineCompletionReady', (raw: unknown) => {
      const ready = parseReady(raw);
      if (ready && samePlace(ready, placeNow(this.lc))) {
        this.refreshing = ready;
        void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
    });
  }

  /** The context to send for a request at `position`: automatic when a ready notice asked. */
  contextFor(
    document: vscode.TextDocument,
    position: vscode.Position,
    ctx: vscode.InlineCompletionContext,
  ): vscode.InlineCompletionContext {
    const asked = this.refreshing;
    this.refreshing = undefined;
    const here = {
      uri: this.lc.code2ProtocolConverter.asUri(document.uri),
      version: document.version,
      line: position.line,
      character: position.character,
    };
    if (asked && samePlace(asked, here)) {
      return { ...ctx, triggerKind: vscode.InlineCompletionTriggerKind.Automatic };
    }
    return ctx;
  }

  clear(): void {
    this.refreshing = undefined;
  }
}

class NotificationProgressFeature implements StaticFeature {
  private readonly active = new Set<vscode.Disposable>();

  constructor(private readonly lc: LanguageClient) {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = capabilities.window ?? {};
    capabilities.window.workDoneProgress = true;
  }

  initialize(): void {
    this.lc.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
      this.track(params.token);
    });
  }

  private track(token: string | number): void {
    const tracker = new PercentTracker();
    let finish: (() => void) | undefined;
    let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    const pending: (WorkDoneProgressBegin | WorkDoneProgressReport)[] = [];
    const report = (v: WorkDoneProgressBegin | WorkDoneProgressReport) => {
      if (!progress) {
        pending.push(v);
        return;
      }
      progress.report({ message: v.message, increment: tracker.increment(v.percentage) });
    };
    const sub = this.lc.onProgress(WorkDoneProgress.type, token, (value) => {
      switch (value.kind) {
        case 'begin':
          void vscode.window.withProgress(
            {
              location: vscode.ProgressLocation.Notification,
              // The server's titles may already name Tide.
              title: /^tide\b/i.test(value.title) ? value.title : `Tide: ${value.title}`,
              cancellable: !!value.cancellable,
            },
            (p, cancel) => {
              progress = p;
              cancel.onCancellationRequested(() => {
                void this.lc.sendNotification(WorkDoneProgressCancelNotification.type, { token });
              });
              report(value);
              for (const v of pending.splice(0)) {
                report(v);
              }
              return new Promise<void>((resolve) => {
                finish = resolve;
              });
            },
          );
          break;
        case 'report':
          report(value);
          break;
        case 'end':
          finish?.();
          sub.dispose();
          this.active.delete(sub);
          break;
      }
    });
    this.active.add(sub);
  }

  clear(): void {
    for (const d of this.active) {
      d.dispose();
    }
    this.active.clear();
  }
}

function workspaceFolderPaths(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const folders = workspaceFolderPaths();
  const configured = expandCommand(config().get<string>('server.command', 'tide-lsp'), os.homedir(), folders[0]);
  const args = config().get<string[]>('server.args', []);
  const resolved = resolveServerCommand(configured, {
    isExecutable,
    pathEnv: process.env.PATH,
    workspaceFolders: folders,
    platform: process.platform,
  });
  if (!resolved) {
    log.error(notFoundMessage(configured));
    setStatus({ state: 'stopped', message: `${configured} not found` });
    // Not awaited: activation would wait for the user's answer, and until activation ends every
    // Tide command, keybindings' too, waits ("Activating Extensions...").
    void vscode.window.showErrorMessage(notFoundMessage(configured), 'Open Settings', 'Show Log').then(async (choice) => {
      if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'tide.server');
      } else if (choice === 'Show Log') {
        log.show();
      }
    });
    return;
  }
  log.info(`starting ${resolved.command} ${args.join(' ')} (found via ${resolved.via})`);
  const secret = await context.secrets.get(API_KEY_SECRET);
  keyInUse = secret;
  const keyLine = apiKeyLogLine(apiKeySource(process.env, secret));
  if (keyLine) {
    log.info(keyLine);
  }

  const serverOptions: ServerOptions = {
    command: resolved.command,
    args,
    // No `transport`: TransportKind.stdio would append `--stdio`, which tide-lsp does not take.
    // The API key travels here and only here: the process environment is in no LSP message.
    options: { env: serverEnv(process.env, secret) },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: log,
    initializationOptions: () => {
      lastSent = currentSettings();
      return lastSent;
    },
    middleware: {
      provideInlineCompletionItems: async (document, position, ctx, token, next) => {
        if (!completionsEnabledFor(currentSettings(), document.languageId)) {
          return undefined;
        }
        const started = Date.now();
        const context = ready ? ready.contextFor(document, position, ctx) : ctx;
        const result = await next(document, position, context, token);
        log.debug(`inline completion round trip ${Date.now() - started} ms${token.isCancellationRequested ? ' (cancelled)' : ''}`);
        // Ghost text at the cursor wins over a next edit on the cursor's line.
        const items = Array.isArray(result) ? result : result?.items;
        if (!token.isCancellationRequested) {
          nextEdits?.noteGhost(document, position, (items?.length ?? 0) > 0);
        }
        return result;
      },
      provideCompletionItem: (document, position, ctx, token, next) => {
        if (!completionsEnabledFor(currentSettings(), document.languageId)) {
          return undefined;
        }
        return next(document, position, ctx, token);
      },
      workspace: {
        // Answer `workspace/configuration` for the `tide` section with the mapped settings.
        configuration: (params, token, next) => {
          if (params.items.every((i) => i.section === 'tide')) {
            return params.items.map(() => currentSettings());
          }
          return next(params, token);
        },
      },
    },
  };
  const lc = new LanguageClient('tide', 'Tide', serverOptions, clientOptions);
  lc.registerFeature(new NotificationProgressFeature(lc));
  ready = new InlineCompletionReadyFeature(lc);
  lc.registerFeature(ready);
  context.subscriptions.push(
    lc.onDidChangeState((e) => {
      if (e.newState === State.Stopped) {
        setStatus({ state: 'stopped' });
      } else if (e.newState === State.Starting) {
        setStatus({ state: 'starting' });
      }
    }),
  );
  // Registered before start so that a status sent right after `initialized` is not missed.
  lc.onNotification('tide/status', (raw: unknown) => {
    const st = parseStatus(raw);
    if (st) {
      setStatus(st);
    } else {
      log.warn(`malformed tide/status: ${JSON.stringify(raw)}`);
    }
  });
  client = lc;
  nextEdits?.reset();
  setStatus({ state: 'starting', model: currentSettings().model ?? null });
  try {
    await lc.start();
  } catch (err) {
    log.error(`the server did not start: ${String(err)}`);
    setStatus({ state: 'error', message: String(err) });
    return;
  }
  serverCaps = lc.initializeResult?.capabilities;
  log.info(`server capabilities: ${JSON.stringify(serverCaps)}`);
  if (lastStatus.state === 'starting') {
    // Until the server says otherwise it is loading its model.
    setStatus({ state: 'loading' });
  }
}

async function stopClient(): Promise<void> {
  const lc = client;
  client = undefined;
  if (lc) {
    try {
      await lc.stop(5000);
    } catch (err) {
      log.warn(`stopping the server: ${String(err)}`);
    }
  }
}

async function toggle(): Promise<void> {
  const cfg = config();
  const enabled = cfg.get<boolean>('enable', true);
  await cfg.update('enable', !enabled, vscode.ConfigurationTarget.Global);
  vscode.window.setStatusBarMessage(`Tide completions ${enabled ? 'off' : 'on'}`, 2000);
}

async function toggleForLanguage(): Promise<void> {
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc) {
    return;
  }
  const cfg = config();
  const next = toggleLanguage(cfg.get<string[]>('disabledLanguages', []), doc.languageId);
  await cfg.update('disabledLanguages', next, vscode.ConfigurationTarget.Global);
  vscode.window.setStatusBarMessage(
    `Tide completions ${next.includes(doc.languageId) ? 'off' : 'on'} for ${doc.languageId}`,
    2000,
  );
}

/** A Tide code action or command as the server sent it, with the ranking fields. */
type TideAction = FixCandidate & { raw: lsp.CodeAction | lsp.Command };

function toCandidate(a: lsp.CodeAction | lsp.Command): TideAction {
  if (typeof (a as lsp.Command).command === 'string') {
    return { raw: a, title: a.title, diagnosticSources: ['tide'] };
  }
  const ca = a as lsp.CodeAction;
  return {
    raw: ca,
    title: ca.title,
    kind: ca.kind,
    isPreferred: ca.isPreferred,
    disabled: ca.disabled !== undefined,
    // Every action comes from Tide's own server here.
    diagnosticSources: ['tide'],
  };
}

async function applyAction(lc: LanguageClient, a: lsp.CodeAction | lsp.Command): Promise<void> {
  if (typeof (a as lsp.Command).command === 'string') {
    const cmd = a as lsp.Command;
    await lc.sendRequest(ExecuteCommandRequest.type, { command: cmd.command, arguments: cmd.arguments });
    return;
  }
  let ca = a as lsp.CodeAction;
  const provider = lc.initializeResult?.capabilities.codeActionProvider;
  if (!ca.edit && typeof provider === 'object' && provider.resolveProvider) {
    ca = await lc.sendRequest(CodeActionResolveRequest.type, ca);
  }
  if (ca.edit) {
    const edit = await lc.protocol2CodeConverter.asWorkspaceEdit(ca.edit);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage(`Tide: could not apply "${ca.title}".`);
      return;
    }
  }
  if (ca.command) {
    await lc.sendRequest(ExecuteCommandRequest.type, { command: ca.command.command, arguments: ca.command.arguments });
  }
}

/** Asks Tide (only Tide) for quick fixes on the cursor's line and applies the best one. */
async function fixAtCursor(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const lc = client;
  if (!editor) {
    return;
  }
  if (!lc || lc.state !== State.Running) {
    void vscode.window.showErrorMessage('Tide: the server is not running.');
    return;
  }
  if (!lc.initializeResult?.capabilities.codeActionProvider) {
    void vscode.window.showInformationMessage('Tide: this server does not offer fixes yet.');
    return;
  }
  const doc = editor.document;
  const line = doc.lineAt(editor.selection.active.line);
  const range = editor.selection.isEmpty ? line.range : editor.selection;
  const diagnostics = vscode.languages
    .getDiagnostics(doc.uri)
    .filter((d) => d.source === 'tide' && d.range.intersection(range) !== undefined);
  const c2p = lc.code2ProtocolConverter;
  const result = await lc.sendRequest(CodeActionRequest.type, {
    textDocument: c2p.asTextDocumentIdentifier(doc),
    range: c2p.asRange(range),
    context: {
      diagnostics: await c2p.asDiagnostics(diagnostics),
      only: [lsp.CodeActionKind.QuickFix],
      triggerKind: lsp.CodeActionTriggerKind.Invoked,
    },
  });
  const ranked = rankTideFixes((result ?? []).map(toCandidate));
  log.info(`fix at cursor: ${ranked.length} fixes: ${JSON.stringify(ranked.map((r) => r.title))}`);
  if (ranked.length === 0) {
    void vscode.window.showInformationMessage('Tide: no fix on this line.');
    return;
  }
  let chosen = ranked[0];
  if (!applyWithoutAsking(ranked)) {
    const pick = await vscode.window.showQuickPick(
      ranked.map((r) => ({ label: r.title, description: r.isPreferred ? 'preferred' : undefined, r })),
      { placeHolder: 'Apply which Tide fix?' },
    );
    if (!pick) {
      return;
    }
    chosen = pick.r;
  }
  log.info(`fix at cursor: applying ${JSON.stringify(chosen.title)}`);
  await applyAction(lc, chosen.raw);
}

/**
 * Restarts the server when the stored API key is not the one it was started with, so that it gets
 * the new key (or none). Serialised: a command and SecretStorage's change event may both ask.
 */
function applyStoredKey(context: vscode.ExtensionContext): Promise<void> {
  keyChanges = keyChanges
    .then(async () => {
      const stored = await context.secrets.get(API_KEY_SECRET);
      if (stored === keyInUse) {
        return;
      }
      log.info(`team server API key ${stored ? 'stored' : 'cleared'}: restarting the server`);
      await stopClient();
      await startClient(context);
    })
    .catch((err) => log.error(`restarting the server with the new API key: ${String(err)}`));
  return keyChanges;
}

async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: 'Tide: team server API key',
    prompt:
      "The bearer key of the completion server that tide.model names (an http(s):// URL). Kept in VS Code's " +
      'secret storage, never in a settings file; the server gets it in its environment as TIDE_API_KEY.',
    password: true,
    ignoreFocusOut: true,
    validateInput: checkApiKey,
  });
  if (value === undefined || checkApiKey(value) !== undefined) {
    return;
  }
  await context.secrets.store(API_KEY_SECRET, value.trim());
  await applyStoredKey(context);
  vscode.window.setStatusBarMessage('Tide: API key stored; the server restarted with it', 4000);
}

async function clearApiKey(context: vscode.ExtensionContext): Promise<void> {
  if ((await context.secrets.get(API_KEY_SECRET)) === undefined) {
    void vscode.window.showInformationMessage('Tide: no team server API key is stored.');
    return;
  }
  await context.secrets.delete(API_KEY_SECRET);
  await applyStoredKey(context);
  vscode.window.setStatusBarMessage('Tide: API key cleared; the server restarted without it', 4000);
}

async function pullModel(): Promise<void> {
  if (!client || client.state !== State.Running) {
    void vscode.window.showErrorMessage('Tide: the server is not running.');
    return;
  }
  const name = await vscode.window.showInputBox({
    title: 'Tide: pull model',
    prompt: "A model name from Tide's registry; empty for the configured (or default) model",
    value: config().get<string>('model', ''),
  });
  if (name === undefined) {
    return;
  }
  try {
    await client.sendRequest(ExecuteCommandRequest.type, {
      command: 'tide.pullModel',
      arguments: name.trim() ? [name.trim()] : [],
    });
    void vscode.window.showInformationMessage(`Tide: model ${name.trim() || '(default)'} is ready.`);
  } catch (err) {
    void vscode.window.showErrorMessage(`Tide: pulling the model failed: ${String(err)}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const channel = vscode.window.createOutputChannel('Tide', { log: true });
  log = redactingChannel(channel);
  statusItem = vscode.window.createStatusBarItem('tide.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'Tide';
  statusItem.command = 'tide.toggle';
  context.subscriptions.push(channel, statusItem);
  renderStatus();
  nextEdits = new NextEditController({
    client: () => client,
    log,
    completionsOn: (languageId) => completionsEnabledFor(currentSettings(), languageId),
  });

  context.subscriptions.push(
    nextEdits,
    vscode.commands.registerCommand('tide.toggle', toggle),
    vscode.commands.registerCommand('tide.toggleLanguage', toggleForLanguage),
    vscode.commands.registerCommand('tide.triggerCompletion', () =>
      vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    ),
    vscode.commands.registerCommand('tide.fixAtCursor', fixAtCursor),
    vscode.commands.registerCommand('tide.pullModelInteractive', pullModel),
    vscode.commands.registerCommand('tide.showLog', () => log.show(true)),
    vscode.commands.registerCommand('tide.restartServer', async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.commands.registerCommand('tide.setApiKey', () => setApiKey(context)),
    vscode.commands.registerCommand('tide.clearApiKey', () => clearApiKey(context)),
    // A key stored or cleared in another window reaches this window's server too.
    context.secrets.onDidChange((e) => {
      if (e.key === API_KEY_SECRET) {
        void applyStoredKey(context);
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('tide')) {
        return;
      }
      if (e.affectsConfiguration('tide.server')) {
        await stopClient();
        await startClient(context);
        return;
      }
      renderStatus();
      if (SERVER_KEYS.some((k) => affectsServer(k) && e.affectsConfiguration(`tide.${k}`)) && client?.state === State.Running) {
        const settings = currentSettings();
        const update = settingsUpdate(lastSent, settings);
        lastSent = settings;
        log.info(`settings changed: ${JSON.stringify(update)}`);
        await client.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationParams(update));
      }
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
