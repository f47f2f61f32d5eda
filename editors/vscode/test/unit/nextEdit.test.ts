import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  editView,
  endAfterApply,
  ghostAtCursor,
  ghostWins,
  InlineEdit,
  parseInlineEdits,
  pickEdit,
  shouldRequest,
  shouldShow,
  tabAction,
} from '../../src/nextEdit';

const URI = 'file:///ws/calc.py';

function edit(line: number, start: number, end: number, text: string, version = 3): InlineEdit {
  return { text, textDocument: { uri: URI, version }, range: { start: { line, character: start }, end: { line, character: end } } };
}

const E = edit(5, 15, 20, 'products');

test('an answer for the current version gives its edit', () => {
  const pick = pickEdit({ edits: [E] }, { uri: URI, version: 3 }, 3);
  assert.deepEqual(pick.edit, E);
});

test('a stale answer is dropped: the document changed since the request', () => {
  const pick = pickEdit({ edits: [E] }, { uri: URI, version: 4 }, 3);
  assert.equal(pick.edit, undefined);
  assert.match((pick as { reason: string }).reason, /^stale/);
});

test('a stale answer is dropped: the edit is for another version', () => {
  const pick = pickEdit({ edits: [edit(5, 15, 20, 'products', 2)] }, { uri: URI, version: 3 }, 3);
  assert.equal(pick.edit, undefined);
  assert.match((pick as { reason: string }).reason, /^stale: the edit is for version 2/);
});

test('edits for other documents, that change nothing, or malformed are left out', () => {
  const other = { ...E, textDocument: { uri: 'file:///ws/other.py', version: 3 } };
  const noop = edit(5, 15, 20, 'items');
  const replaced = () => 'items';
  assert.equal(pickEdit({ edits: [other] }, { uri: URI, version: 3 }, 3).edit, undefined);
  assert.equal(pickEdit({ edits: [noop] }, { uri: URI, version: 3 }, 3, replaced).edit, undefined);
  assert.equal(pickEdit({ edits: [] }, { uri: URI, version: 3 }, 3).edit, undefined);
  assert.equal(pickEdit(null, { uri: URI, version: 3 }, 3).edit, undefined);
  assert.deepEqual(
    parseInlineEdits({
      edits: [
        { text: 1, textDocument: { uri: URI, version: 3 }, range: E.range },
        { text: 'x', textDocument: { uri: URI }, range: E.range },
        { text: 'x', textDocument: { uri: URI, version: 3 }, range: { start: { line: 2, character: 0 }, end: { line: 1, character: 0 } } },
        { text: 'x', textDocument: { uri: URI, version: 3 }, range: { start: { line: -1, character: 0 }, end: { line: 1, character: 0 } } },
        E,
      ],
    }),
    [E],
  );
});

test('ghost text at the cursor wins on the cursor line only', () => {
  const doc = { uri: URI, version: 3 };
  const ghost = { uri: URI, line: 5, version: 3 };
  assert.equal(ghostAtCursor(ghost, doc, 5), true);
  assert.equal(ghostWins(ghost, E, doc, 5), true);
  assert.equal(shouldShow(E, doc, 5, ghost), false);
  // Ghost text elsewhere, or for an older version, or another document: the edit shows.
  assert.equal(shouldShow(E, doc, 1, { ...ghost, line: 1 }), true);
  assert.equal(shouldShow(E, doc, 5, { ...ghost, version: 2 }), true);
  assert.equal(shouldShow(E, doc, 5, { ...ghost, uri: 'file:///x.py' }), true);
  assert.equal(shouldShow(E, doc, 5, undefined), true);
  // The edit's lines count: a two-line edit touches both.
  const two = { ...E, range: { start: { line: 4, character: 0 }, end: { line: 5, character: 3 } } };
  assert.equal(shouldShow(two, doc, 4, { ...ghost, line: 4 }), false);
  // An edit for another version is never shown.
  assert.equal(shouldShow(E, { uri: URI, version: 4 }, 1, undefined), false);
  assert.equal(shouldShow(undefined, doc, 1, undefined), false);
});

test('Tab jumps to an edit on other lines and accepts one on the cursor line', () => {
  assert.equal(tabAction({ line: 0, character: 19 }, E), 'jump');
  assert.equal(tabAction({ line: 4, character: 0 }, E), 'jump');
  assert.equal(tabAction({ line: 5, character: 15 }, E), 'accept');
  assert.equal(tabAction({ line: 5, character: 0 }, E), 'accept');
});

test('requests only when the setting, the language and the server allow', () => {
  const on = { explicit: false, setting: true, completionsOn: true, methodMissing: false, synced: true };
  assert.equal(shouldRequest(on), true);
  assert.equal(shouldRequest({ ...on, setting: false }), false);
  assert.equal(shouldRequest({ ...on, completionsOn: false }), false);
  assert.equal(shouldRequest({ ...on, methodMissing: true }), false);
  assert.equal(shouldRequest({ ...on, synced: false }), false);
});

test('an explicit request asks with the setting off or after MethodNotFound, not where completions are off', () => {
  const asked = { explicit: true, setting: false, completionsOn: true, methodMissing: true, synced: true };
  assert.equal(shouldRequest(asked), true);
  assert.equal(shouldRequest({ ...asked, completionsOn: false }), false);
  assert.equal(shouldRequest({ ...asked, synced: false }), false);
});

test('the cursor goes to the end of the new text', () => {
  assert.deepEqual(endAfterApply(E), { line: 5, character: 23 });
  assert.deepEqual(endAfterApply(edit(1, 4, 21, 'total = 0\n    return total')), { line: 2, character: 16 });
  assert.deepEqual(endAfterApply(edit(6, 0, 0, 'print(count([]))\n')), { line: 7, character: 0 });
});

test('the view: what goes is struck through, what comes follows on one line', () => {
  const v = editView('items', E);
  assert.equal(v.removes, true);
  assert.equal(v.after, 'products');
  assert.match(v.hover, /```diff\n- items\n\+ products\n```/);
  const ins = editView('', edit(1, 0, 0, 'a = 1\nb = 2'));
  assert.equal(ins.removes, false);
  assert.equal(ins.after, 'a = 1 ⏎ b = 2');
  const del = editView('x = 1', edit(1, 0, 5, ''));
  assert.equal(del.removes, true);
  assert.equal(del.after, '');
  assert.equal(editView('', edit(1, 0, 0, 'y'.repeat(300))).after.length, 120);
});
