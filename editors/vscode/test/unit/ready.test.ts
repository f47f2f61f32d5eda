import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReady, samePlace } from '../../src/ready';

const RAW = { textDocument: { uri: 'file:///w/a.py', version: 7 }, position: { line: 3, character: 8 } };
const PLACE = { uri: 'file:///w/a.py', version: 7, line: 3, character: 8 };

test('a ready notice is read into a place', () => {
  assert.deepEqual(parseReady(RAW), PLACE);
});

test('malformed ready notices are refused', () => {
  assert.equal(parseReady(null), undefined);
  assert.equal(parseReady({ position: RAW.position }), undefined);
  assert.equal(parseReady({ textDocument: { uri: 'file:///w/a.py' }, position: RAW.position }), undefined);
  assert.equal(parseReady({ textDocument: RAW.textDocument, position: { line: 'x', character: 0 } }), undefined);
});

test('a ready notice is for the place only while nothing was typed or moved', () => {
  assert.equal(samePlace(PLACE, { ...PLACE }), true);
  assert.equal(samePlace(PLACE, { ...PLACE, version: 8 }), false);
  assert.equal(samePlace(PLACE, { ...PLACE, character: 9 }), false);
  assert.equal(samePlace(PLACE, { ...PLACE, uri: 'file:///w/b.py' }), false);
  assert.equal(samePlace(PLACE, undefined), false);
});
