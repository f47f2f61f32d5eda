import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyWithoutAsking, rankTideFixes } from '../../src/fixes';
import { PercentTracker } from '../../src/progress';

test("only Tide's quick fixes are kept, preferred first", () => {
  const ranked = rankTideFixes([
    { title: 'ruff: remove import', kind: 'quickfix', diagnosticSources: ['ruff'] },
    { title: 'tide: add colon', kind: 'quickfix', diagnosticSources: ['tide'] },
    { title: 'tide: close paren', kind: 'quickfix', diagnosticSources: ['tide'], isPreferred: true },
    { title: 'tide: refactor', kind: 'refactor.extract', diagnosticSources: ['tide'] },
    { title: 'tide: disabled', kind: 'quickfix', diagnosticSources: ['tide'], disabled: true },
  ]);
  assert.deepEqual(
    ranked.map((r) => r.title),
    ['tide: close paren', 'tide: add colon'],
  );
  assert.equal(applyWithoutAsking(ranked), true);
});

test('several unpreferred fixes ask; one fix applies', () => {
  const two = rankTideFixes([
    { title: 'a', kind: 'quickfix', diagnosticSources: ['tide'] },
    { title: 'b', kind: 'quickfix', diagnosticSources: ['tide'] },
  ]);
  assert.equal(applyWithoutAsking(two), false);
  assert.equal(applyWithoutAsking(two.slice(0, 1)), true);
  assert.deepEqual(rankTideFixes([{ title: 'x', kind: 'quickfix', diagnosticSources: ['pyright'] }]), []);
});

test('progress percentages become non-negative increments', () => {
  const t = new PercentTracker();
  assert.equal(t.increment(undefined), undefined);
  assert.equal(t.increment(10), 10);
  assert.equal(t.increment(35), 25);
  assert.equal(t.increment(30), 0);
  assert.equal(t.increment(150), 65);
  assert.equal(t.total, 100);
});
