/**
 * Next-edit suggestions, the pure part: what a `textDocument/copilotInlineEdit` answer holds,
 * which edit may be shown (for this document, at its current version, not hidden by ghost text),
 * what `Tab` does with the cursor where it is, and how the edit is drawn. No VS Code import, so
 * the unit tests run it directly; `nextEditView.ts` glues it to the editor.
 *
 * The method is copilot-language-server's: params `{textDocument: {uri, version}, position}`,
 * result `{edits: [{text, textDocument: {uri, version}, range, command?}]}`; a shown edit is
 * reported with `textDocument/didShowInlineEdit` `{item: edit}`.
 */

export const INLINE_EDIT_METHOD = 'textDocument/copilotInlineEdit';
export const DID_SHOW_INLINE_EDIT_METHOD = 'textDocument/didShowInlineEdit';
/** Debounce after the last change before asking, when the setting gives none. */
export const DEFAULT_DEBOUNCE_MS = 400;

export interface Pos {
  line: number;
  character: number;
}

export interface Range {
  start: Pos;
  end: Pos;
}

export interface InlineEdit {
  text: string;
  textDocument: { uri: string; version: number };
  range: Range;
  command?: unknown;
}

function isNatural(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isPos(v: unknown): v is Pos {
  const p = v as Pos;
  return typeof p === 'object' && p !== null && isNatural(p.line) && isNatural(p.character);
}

export function comparePos(a: Pos, b: Pos): number {
  return a.line !== b.line ? a.line - b.line : a.character - b.character;
}

function isRange(v: unknown): v is Range {
  const r = v as Range;
  return typeof r === 'object' && r !== null && isPos(r.start) && isPos(r.end) && comparePos(r.start, r.end) <= 0;
}

/** The well-formed edits of an answer (anything else in it is left out). */
export function parseInlineEdits(raw: unknown): InlineEdit[] {
  const edits = (raw as { edits?: unknown } | null | undefined)?.edits;
  if (!Array.isArray(edits)) {
    return [];
  }
  return edits.filter((e): e is InlineEdit => {
    const doc = (e as InlineEdit | null)?.textDocument;
    return (
      typeof e === 'object' &&
      e !== null &&
      typeof (e as InlineEdit).text === 'string' &&
      isRange((e as InlineEdit).range) &&
      typeof doc === 'object' &&
      doc !== null &&
      typeof doc.uri === 'string' &&
      Number.isInteger(doc.version)
    );
  });
}

export interface DocState {
  uri: string;
  /** The document's version now. */
  version: number;
}

export type Pick = { edit: InlineEdit } | { edit?: undefined; reason: string };

/**
 * The edit to show from an answer to a request made at `requestVersion`, for the document as it
 * is now; `replaced` gives the document's text in a range (to leave out edits that change
 * nothing). An answer is stale when the document changed since the request, or when the edit was
 * computed on another version than the one it is for now.
 */
export function pickEdit(raw: unknown, doc: DocState, requestVersion: number, replaced?: (r: Range) => string): Pick {
  if (requestVersion !== doc.version) {
    return { reason: `stale: asked at version ${requestVersion}, the document is at ${doc.version}` };
  }
  const edits = parseInlineEdits(raw);
  if (edits.length === 0) {
    return { reason: 'no edit' };
  }
  for (const edit of edits) {
    if (edit.textDocument.uri !== doc.uri) {
      continue;
    }
    if (edit.textDocument.version !== doc.version) {
      return { reason: `stale: the edit is for version ${edit.textDocument.version}, the document is at ${doc.version}` };
    }
    if (replaced && replaced(edit.range) === edit.text) {
      continue;
    }
    return { edit };
  }
  return { reason: 'no edit for this document that changes it' };
}

/** Whether a shown edit still applies to the document as it is. */
export function isCurrent(edit: InlineEdit, doc: DocState): boolean {
  return edit.textDocument.uri === doc.uri && edit.textDocument.version === doc.version;
}

/** The lines an edit touches (its range's, at least one). */
export function touchesLine(edit: InlineEdit, line: number): boolean {
  return line >= edit.range.start.line && line <= edit.range.end.line;
}

/** Ghost text that the editor got for a document: its line and the document's version then. */
export interface Ghost {
  uri: string;
  line: number;
  version: number;
}

/** Whether ghost text is at the cursor: got for this document at its version, on the cursor's line. */
export function ghostAtCursor(ghost: Ghost | undefined, doc: DocState, cursorLine: number): boolean {
  return ghost !== undefined && ghost.uri === doc.uri && ghost.version === doc.version && ghost.line === cursorLine;
}

/** Ghost text at the cursor wins over an edit on the cursor's line; an edit elsewhere still shows. */
export function ghostWins(ghost: Ghost | undefined, edit: InlineEdit, doc: DocState, cursorLine: number): boolean {
  return ghostAtCursor(ghost, doc, cursorLine) && touchesLine(edit, cursorLine);
}

/** Whether an edit may be shown now. */
export function shouldShow(edit: InlineEdit | undefined, doc: DocState, cursorLine: number, ghost: Ghost | undefined): boolean {
  return edit !== undefined && isCurrent(edit, doc) && !ghostWins(ghost, edit, doc, cursorLine);
}

export interface RequestGate {
  /** Asked for by the user (*Tide: Suggest next edit*), not after a change. */
  explicit: boolean;
  /** `tide.nextEdit.enabled`. */
  setting: boolean;
  /** Completions are on for the document's language (`tide.enable`, `tide.disabledLanguages`). */
  completionsOn: boolean;
  /** The server answered MethodNotFound before (it does not speak the method). */
  methodMissing: boolean;
  /** The document is one the client syncs (a file or untitled). */
  synced: boolean;
}

/**
 * Whether to ask. An explicit request asks even with the setting off or after a MethodNotFound
 * (the server may have been upgraded), so the user can try one without turning it on.
 */
export function shouldRequest(g: RequestGate): boolean {
  return g.completionsOn && g.synced && (g.explicit || (g.setting && !g.methodMissing));
}

export type TabAction = 'jump' | 'accept';

/**
 * What `Tab` does with an edit shown: accept it when the cursor is on one of the lines it
 * replaces, else jump to its start (a second `Tab` accepts).
 */
export function tabAction(cursor: Pos, edit: InlineEdit): TabAction {
  return touchesLine(edit, cursor.line) ? 'accept' : 'jump';
}

/** Where the cursor goes after accepting: the end of the new text. */
export function endAfterApply(edit: InlineEdit): Pos {
  const lines = edit.text.split('\n');
  const start = edit.range.start;
  if (lines.length === 1) {
    return { line: start.line, character: start.character + lines[0].length };
  }
  return { line: start.line + lines.length - 1, character: lines[lines.length - 1].length };
}

export interface EditView {
  /** Whether there is replaced text to mark (struck through). */
  removes: boolean;
  /** The new text drawn after the replaced range: one line, line breaks shown as ⏎. */
  after: string;
  /** The hover: what goes and what comes, as a diff. */
  hover: string;
}

const MAX_AFTER = 120;

/** How an edit is drawn, given the text it replaces. */
export function editView(replacedText: string, edit: InlineEdit): EditView {
  let after = edit.text.replace(/\r?\n/g, ' ⏎ ');
  if (after.length > MAX_AFTER) {
    after = `${after.slice(0, MAX_AFTER - 1)}…`;
  }
  if (edit.text === '' && replacedText !== '') {
    after = '';
  }
  const diff = [
    ...(replacedText === '' ? [] : replacedText.split('\n').map((l) => `- ${l}`)),
    ...(edit.text === '' ? [] : edit.text.split('\n').map((l) => `+ ${l}`)),
  ];
  const hover = ['**Tide: next edit** (`Tab` to accept, `Escape` to dismiss)', '', '```diff', ...diff, '```'].join('\n');
  return { removes: replacedText !== '', after, hover };
}
