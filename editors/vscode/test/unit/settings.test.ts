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
  serverTimeout: null,
  serverCaFile: '',
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

test('serverTimeout is a positive number of seconds, fractions allowed', () => {
  assert.equal(toServerSettings(reader()).serverTimeout, undefined);
  assert.equal(toServerSettings(reader({ serverTimeout: 30 })).serverTimeout, 30);
  assert.equal(toServerSettings(reader({ serverTimeout: 0.5 })).serverTimeout, 0.5);
  assert.equal(toServerSettings(reader({ serverTimeout: 2.25 })).serverTimeout, 2.25);
  for (const bad of [0, -1, 'fast', Number.NaN, Number.POSITIVE_INFINITY, true]) {
    const problems: string[] = [];
    assert.equal(toServerSettings(reader({ serverTimeout: bad }), problems).serverTimeout, undefined);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /tide\.serverTimeout must be a positive number/);
  }
  assert.ok(affectsServer('serverTimeout'));
});

test('serverCaFile is sent when set, left to the server when empty', () => {
  assert.equal(toServerSettings(reader()).serverCaFile, undefined);
  assert.equal(toServerSettings(reader({ serverCaFile: ' /etc/team/ca.pem ' })).serverCaFile, '/etc/team/ca.pem');
  const problems: string[] = [];
  assert.equal(toServerSettings(reader({ serverCaFile: 42 }), problems).serverCaFile, undefined);
  assert.match(problems.join('\n'), /tide\.serverCaFile must be a string/);
  assert.ok(affectsServer('serverCaFile'));
  // Back to empty: the update asks the server for its default again.
  const before = toServerSettings(reader({ serverCaFile: '/ca.pem', serverTimeout: 3 }));
  const after = toServerSettings(reader());
  assert.deepEqual(settingsUpdate(before, after), { enable: true, disabledLanguages: [], serverCaFile: null, serverTimeout: null });
});

test('an API key is never a setting: one written into settings.json is not sent', () => {
  const s = toServerSettings(reader({ apiKey: 'sk-in-a-file', model: 'http://team:8080' }));
  assert.equal('apiKey' in s, false);
  assert.equal(JSON.stringify(s).includes('sk-in-a-file'), false);
  assert.equal(affectsServer('apiKey'), false);
});
