import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLatency, formatStatus, mergeStatus, parseStatus, shortModelName } from '../../src/status';

test('model names are shortened to the file name without .gguf', () => {
  assert.equal(shortModelName('/root/.cache/tide/models/qwen2.5-coder-0.5b-q8_0.gguf'), 'qwen2.5-coder-0.5b-q8_0');
  assert.equal(shortModelName('qwen2.5-coder-0.5b'), 'qwen2.5-coder-0.5b');
  assert.equal(shortModelName(''), '');
  assert.equal(shortModelName(null), '');
});

test('latency is shown in ms below a second, else in seconds', () => {
  assert.equal(formatLatency(849.6), '850 ms');
  assert.equal(formatLatency(1234), '1.2 s');
  assert.equal(formatLatency(12_345), '12 s');
  assert.equal(formatLatency(null), '');
  assert.equal(formatLatency(-1), '');
  assert.equal(formatLatency(Number.NaN), '');
});

test('downloading shows the percentage, clamped', () => {
  const v = formatStatus({ state: 'downloading', model: 'm', percent: 41.6 }, true);
  assert.equal(v.text, '$(cloud-download) Tide m: downloading 42%');
  assert.equal(formatStatus({ state: 'downloading', percent: 130 }, true).text, '$(cloud-download) Tide: downloading 100%');
  assert.equal(formatStatus({ state: 'downloading', percent: null }, true).text, '$(cloud-download) Tide: downloading');
});

test('loading, ready with latency, error', () => {
  assert.equal(formatStatus({ state: 'loading', model: 'm' }, true).text, '$(loading~spin) Tide m: loading');
  const ready = formatStatus({ state: 'ready', model: 'm', latencyMs: 1500 }, true);
  assert.equal(ready.text, '$(sparkle) Tide m: ready · 1.5 s');
  assert.equal(ready.severity, 'normal');
  assert.match(ready.tooltip, /last completion took 1\.5 s/);
  assert.match(ready.tooltip, /Click to turn completions off/);
  assert.equal(formatStatus({ state: 'ready', model: 'm' }, true).text, '$(sparkle) Tide m: ready');
  const err = formatStatus({ state: 'error', model: 'm', message: 'no such model' }, true);
  assert.equal(err.text, '$(error) Tide m: error');
  assert.equal(err.severity, 'error');
  assert.match(err.tooltip, /no such model/);
});

test('a LoRA adapter in use is marked in the text and named in the tooltip', () => {
  const v = formatStatus({ state: 'ready', model: 'm', adapter: 'app (200 steps, rank 8)' }, true);
  assert.equal(v.text, '$(sparkle) Tide m +adapter: ready');
  assert.match(v.tooltip, /LoRA adapter: app \(200 steps, rank 8\)\./);
  assert.equal(formatStatus({ state: 'loading', model: 'm', adapter: 'a' }, true).text, '$(loading~spin) Tide m: loading');
  assert.equal(parseStatus({ state: 'ready', adapter: 'a' })?.adapter, 'a');
});

test('ready but disabled shows off and offers to turn on', () => {
  const v = formatStatus({ state: 'ready', model: 'm', latencyMs: 10 }, false);
  assert.equal(v.text, '$(circle-slash) Tide m: off');
  assert.equal(v.severity, 'warning');
  assert.match(v.tooltip, /Click to turn completions on/);
});

test('parseStatus accepts the contract and rejects junk', () => {
  assert.deepEqual(parseStatus({ state: 'ready', model: 'x', percent: null, message: null, latencyMs: 12.5 }), {
    state: 'ready',
    model: 'x',
    percent: null,
    message: null,
    adapter: null,
    latencyMs: 12.5,
  });
  assert.equal(parseStatus({ state: 'bogus' }), undefined);
  assert.equal(parseStatus(null), undefined);
  assert.equal(parseStatus('ready'), undefined);
  assert.deepEqual(parseStatus({ state: 'loading', percent: 'x' }), {
    state: 'loading',
    model: null,
    percent: null,
    message: null,
    adapter: null,
    latencyMs: null,
  });
});

test('mergeStatus keeps the last latency and model', () => {
  const a = mergeStatus(undefined, { state: 'ready', model: 'm', latencyMs: 800 });
  const b = mergeStatus(a, { state: 'ready', model: null, latencyMs: null });
  assert.equal(b.model, 'm');
  assert.equal(b.latencyMs, 800);
  const c = mergeStatus(b, { state: 'ready', model: 'n', latencyMs: 90 });
  assert.equal(c.model, 'n');
  assert.equal(c.latencyMs, 90);
});
