import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  affectsServer,
  completionsEnabledFor,
  didChangeConfigurationParams,
  settingsUpdate,
  toggleLanguage,
  toServerSettings,
} from '../../src/settings';

// What `vscode.workspace.getConfiguration('tide')` gives with the package.json defaults.
const defaults: Record<string, unknown> = {
  'server.command': 'tide-lsp',
  'server.args': [],
  enable: true,
  disabledLanguages: [],
  model: '',
  modelDir: '',
  maxLines: null,
  maxTokens: null,
  contextBudget: null,
  threads: null,
  diagnostics: true,
  verifyFixes: true,
  runTests: false,
  testTimeout: null,
  logLevel: '',
  adapter: '',
};

function reader(overrides: Record<string, unknown> = {}) {
  const all = { ...defaults, ...overrides };
  return (k: string) => all[k];
}

test('defaults leave the server its own defaults and send no client-only keys', () => {
  assert.deepEqual(toServerSettings(reader()), { enable: true, disabledLanguages: [] });
});

test('an update resets keys that went back to their defaults with null', () => {
  const before = toServerSettings(reader({ maxLines: 4, model: 'm', diagnostics: false }));
  const after = toServerSettings(reader({ model: 'n' }));
  assert.deepEqual(settingsUpdate(before, after), {
    model: 'n',
    enable: true,
    disabledLanguages: [],
    maxLines: null,
    diagnostics: null,
  });
  assert.deepEqual(settingsUpdate(undefined, after), after);
});

test('every server key is mapped with its camelCase name', () => {
  const s = toServerSettings(
    reader({
      model: ' qwen2.5-coder-1.5b ',
      modelDir: '/models',
      maxLines: 4,
      maxTokens: 64,
      contextBudget: 1024,
      threads: 2,
      enable: false,
      disabledLanguages: ['markdown', 'markdown', 'plaintext'],
      diagnostics: false,
      verifyFixes: false,
      runTests: true,
      testTimeout: 30,
      logLevel: 'debug',
    }),
  );
  assert.deepEqual(s, {
    model: 'qwen2.5-coder-1.5b',
    modelDir: '/models',
    logLevel: 'debug',
    contextBudget: 1024,
    maxTokens: 64,
    maxLines: 4,
    threads: 2,
    testTimeout: 30,
    enable: false,
    diagnostics: false,
    verifyFixes: false,
    runTests: true,
    disabledLanguages: ['markdown', 'plaintext'],
  });
  assert.equal(JSON.stringify(s).includes('server'), false);
});

test('bad values are dropped and reported', () => {
  const problems: string[] = [];
  const s = toServerSettings(reader({ maxLines: 0, contextBudget: 1.5, threads: 'two', enable: 'yes', model: 3 }), problems);
  assert.equal(s.maxLines, undefined);
  assert.equal(s.contextBudget, undefined);
  assert.equal(s.threads, undefined);
  assert.equal(s.enable, undefined);
  assert.equal(s.model, undefined);
  assert.equal(problems.length, 5);
  assert.match(problems.join('\n'), /tide\.maxLines must be a positive integer/);
});

test('didChangeConfiguration params nest the settings under tide', () => {
  assert.deepEqual(didChangeConfigurationParams({ maxLines: 3 }), { settings: { tide: { maxLines: 3 } } });
});

test('enable and disabledLanguages gate completions per language', () => {
  assert.equal(completionsEnabledFor({ enable: true, disabledLanguages: ['markdown'] }, 'python'), true);
  assert.equal(completionsEnabledFor({ enable: true, disabledLanguages: ['markdown'] }, 'markdown'), false);
  assert.equal(completionsEnabledFor({ enable: false }, 'python'), false);
  assert.equal(completionsEnabledFor({}, 'python'), true);
});

test('toggling a language adds or removes it', () => {
  assert.deepEqual(toggleLanguage(['markdown'], 'python'), ['markdown', 'python']);
  assert.deepEqual(toggleLanguage(['markdown', 'python'], 'python'), ['markdown']);
});

test('only server keys count as server settings', () => {
  assert.equal(affectsServer('maxLines'), true);
  assert.equal(affectsServer('server.command'), false);
});

test('the adapter setting is sent when set, left to the server when empty', () => {
  assert.equal(toServerSettings(reader()).adapter, undefined);
  assert.equal(toServerSettings(reader({ adapter: ' off ' })).adapter, 'off');
  assert.ok(affectsServer('adapter'));
});
