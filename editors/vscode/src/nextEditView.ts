/**
 * Next-edit suggestions in the editor: after the user edits (debounced) asks the server with
 * `textDocument/copilotInlineEdit` for the active editor's cursor and document version, draws the
 * answer next to the text it replaces (the replaced range struck through on red, the new text
 * after it on green, a hover with the diff), reports it with `textDocument/didShowInlineEdit`, and
 * sets the `tide.nextEditVisible` context key that the `Tab` (jump, then accept) and `Escape`
 * (dismiss) keybindings need. The decisions are in `nextEdit.ts`.
 */
import * as vscode from 'vscode';
import { LanguageClient, State } from 'vscode-languageclient/node';
import {
  DEFAULT_DEBOUNCE_MS,
  DID_SHOW_INLINE_EDIT_METHOD,
  editView,
  endAfterApply,
  Ghost,
  ghostWins,
  INLINE_EDIT_METHOD,
  InlineEdit,
  isCurrent,
  pickEdit,
  Range,
  shouldRequest,
  shouldShow,
  tabAction,
} from './nextEdit';

export const CONTEXT_KEY = 'tide.nextEditVisible';
const METHOD_NOT_FOUND = -32601;
const CONTENT_MODIFIED = -32801;
const REQUEST_CANCELLED = -32800;

export interface NextEditHost {
  client(): LanguageClient | undefined;
  log: vscode.LogOutputChannel;
  /** Completions are on for this language (tide.enable, tide.disabledLanguages). */
  completionsOn(languageId: string): boolean;
}

function toRange(r: Range): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

export class NextEditController implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly removedType = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    textDecoration: 'line-through',
    border: '1px solid',
    borderColor: new vscode.ThemeColor('diffEditor.removedTextBorder'),
  });
  private readonly addedType = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('gitDecoration.addedResourceForeground'),
      backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
      margin: '0 0 0 0.3em',
    },
  });
  private timer: NodeJS.Timeout | undefined;
  private pending: vscode.CancellationTokenSource | undefined;
  /** The edit from the last answer, for `uri` (shown or hidden by ghost text). */
  private edit: InlineEdit | undefined;
  private shownIn: vscode.TextEditor | undefined;
  private reported = new WeakSet<InlineEdit>();
  /** Edits whose hiding by ghost text was logged, so the log says it once per edit. */
  private hiddenNoted = new WeakSet<InlineEdit>();
  private ghost: Ghost | undefined;
  private methodMissing = false;
  private visible = true;

  constructor(private readonly host: NextEditHost) {
    this.disposables.push(
      this.removedType,
      this.addedType,
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === vscode.window.activeTextEditor) {
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.clear()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tide.nextEdit.enabled') && !this.config().get<boolean>('nextEdit.enabled', true)) {
          this.host.log.info('next edit suggestions off (tide.nextEdit.enabled)');
          this.dismiss();
        }
      }),
      vscode.commands.registerCommand('tide.nextEdit.tab', () => this.tab()),
      vscode.commands.registerCommand('tide.nextEdit.dismiss', () => this.dismiss()),
      vscode.commands.registerCommand('tide.nextEdit.trigger', () => this.requestNow(true)),
    );
    void this.setVisible(false);
  }

  private config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('tide');
  }

  /** A new server: it may speak the method even if the last one did not. */
  reset(): void {
    this.methodMissing = false;
    this.ghost = undefined;
    this.clear();
  }

  /** The inline completion provider's answer: ghost text on this line at this version, or none. */
  noteGhost(document: vscode.TextDocument, position: vscode.Position, shown: boolean): void {
    const uri = document.uri.toString();
    if (shown) {
      this.ghost = { uri, line: position.line, version: document.version };
    } else if (this.ghost?.uri === uri) {
      this.ghost = undefined;
    }
    this.render();
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) {
      return;
    }
    const editor = vscode.window.activeTextEditor;
    if (this.edit && this.edit.textDocument.uri === e.document.uri.toString()) {
      this.clear();
    }
    if (editor?.document === e.document) {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.pending?.cancel();
    const ms = this.config().get<number>('nextEdit.debounceMs', DEFAULT_DEBOUNCE_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.requestNow(false);
    }, Math.max(0, ms));
  }

  private async requestNow(explicit: boolean): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const lc = this.host.client();
    if (!editor || !lc || lc.state !== State.Running) {
      return;
    }
    const doc = editor.document;
    const gate = {
      explicit,
      setting: this.config().get<boolean>('nextEdit.enabled', true),
      completionsOn: this.host.completionsOn(doc.languageId),
      methodMissing: this.methodMissing,
      synced: doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled',
    };
    if (!shouldRequest(gate)) {
      return;
    }
    this.pending?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.pending = cts;
    const version = doc.version;
    const position = editor.selection.active;
    const started = Date.now();
    let raw: unknown;
    try {
      raw = await lc.sendRequest(
        INLINE_EDIT_METHOD,
        {
          textDocument: { uri: lc.code2ProtocolConverter.asUri(doc.uri), version },
          position: { line: position.line, character: position.character },
        },
        cts.token,
      );
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === METHOD_NOT_FOUND) {
        this.methodMissing = true;
        this.host.log.info('next edit: the server does not answer textDocument/copilotInlineEdit; not asking again');
      } else if (code !== CONTENT_MODIFIED && code !== REQUEST_CANCELLED && !cts.token.isCancellationRequested) {
        this.host.log.warn(`next edit for ${doc.uri.toString()} failed: ${String(err)}`);
      }
      return;
    } finally {
      if (this.pending === cts) {
        this.pending = undefined;
      }
      cts.dispose();
    }
    if (cts.token.isCancellationRequested) {
      return;
    }
    const now = { uri: doc.uri.toString(), version: doc.version };
    const pick = pickEdit(raw, now, version, (r) => doc.getText(toRange(r)));
    // One line per answer (one per pause in typing): what the server proposed, and whether it
    // is kept, is what someone asking "why did nothing show" needs.
    this.host.log.info(
      `next edit answered for ${now.uri} v${version} in ${Date.now() - started} ms: ${pick.edit ? JSON.stringify(pick.edit) : pick.reason}`,
    );
    if (!pick.edit) {
      return;
    }
    if (vscode.window.activeTextEditor?.document !== doc) {
      return;
    }
    this.clear();
    this.edit = pick.edit;
    this.render();
  }

  /** Draws the edit, or hides it while ghost text at the cursor wins, and reports it once shown. */
  private render(): void {
    const edit = this.edit;
    const editor = vscode.window.activeTextEditor;
    if (!edit) {
      return;
    }
    if (!editor || editor.document.uri.toString() !== edit.textDocument.uri) {
      this.hide();
      return;
    }
    const doc = { uri: editor.document.uri.toString(), version: editor.document.version };
    const cursorLine = editor.selection.active.line;
    if (!shouldShow(edit, doc, cursorLine, this.ghost)) {
      if (ghostWins(this.ghost, edit, doc, cursorLine) && !this.hiddenNoted.has(edit)) {
        this.hiddenNoted.add(edit);
        this.host.log.info(`next edit for ${doc.uri} hidden: ghost text at the cursor wins`);
      }
      this.hide();
      if (!isCurrent(edit, doc)) {
        this.edit = undefined;
      }
      return;
    }
    const range = toRange(edit.range);
    const view = editView(editor.document.getText(range), edit);
    const hover = new vscode.MarkdownString(view.hover);
    editor.setDecorations(this.removedType, view.removes ? [{ range, hoverMessage: hover }] : []);
    editor.setDecorations(
      this.addedType,
      view.after ? [{ range: new vscode.Range(range.end, range.end), hoverMessage: hover, renderOptions: { after: { contentText: view.after } } }] : [],
    );
    this.shownIn = editor;
    void this.setVisible(true);
    if (!this.reported.has(edit)) {
      this.reported.add(edit);
      const lc = this.host.client();
      this.host.log.info(`next edit shown: ${JSON.stringify(edit)}`);
      void lc?.sendNotification(DID_SHOW_INLINE_EDIT_METHOD, { item: edit }).catch((err: unknown) => {
        this.host.log.warn(`didShowInlineEdit: ${String(err)}`);
      });
    }
  }

  private hide(): void {
    if (this.shownIn) {
      this.shownIn.setDecorations(this.removedType, []);
      this.shownIn.setDecorations(this.addedType, []);
      this.shownIn = undefined;
    }
    void this.setVisible(false);
  }

  private clear(): void {
    this.edit = undefined;
    this.hide();
  }

  private async setVisible(v: boolean): Promise<void> {
    if (v === this.visible) {
      return;
    }
    this.visible = v;
    await vscode.commands.executeCommand('setContext', CONTEXT_KEY, v);
  }

  dismiss(): void {
    if (this.edit) {
      this.host.log.info('next edit dismissed');
    }
    this.pending?.cancel();
    this.clear();
  }

  /** `Tab` with an edit shown: jump to it when the cursor is elsewhere, else apply it. */
  async tab(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const edit = this.edit;
    if (!editor || !edit || !this.visible) {
      // The keybinding fired without an edit (its context key lags): a plain Tab.
      await vscode.commands.executeCommand('tab');
      return;
    }
    const doc = editor.document;
    if (!isCurrent(edit, { uri: doc.uri.toString(), version: doc.version })) {
      this.clear();
      await vscode.commands.executeCommand('tab');
      return;
    }
    const cursor = editor.selection.active;
    if (tabAction({ line: cursor.line, character: cursor.character }, edit) === 'jump') {
      const start = toRange(edit.range).start;
      editor.selection = new vscode.Selection(start, start);
      editor.revealRange(toRange(edit.range), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      this.host.log.info(`next edit: jumped to line ${start.line + 1}`);
      return;
    }
    const we = new vscode.WorkspaceEdit();
    we.replace(doc.uri, toRange(edit.range), edit.text);
    this.clear();
    if (doc.version !== edit.textDocument.version || !(await vscode.workspace.applyEdit(we))) {
      this.host.log.warn('next edit: could not apply (the document changed)');
      return;
    }
    const end = endAfterApply(edit);
    const pos = new vscode.Position(end.line, end.character);
    editor.selection = new vscode.Selection(pos, pos);
    this.host.log.info(`next edit accepted: ${JSON.stringify(edit)}`);
  }

  dispose(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.pending?.cancel();
    this.hide();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
