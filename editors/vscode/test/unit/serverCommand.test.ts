import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandCommand, notFoundMessage, resolveServerCommand } from '../../src/serverCommand';

function lookup(executables: string[], pathEnv = '/usr/bin:/bin', folders: string[] = ['/ws']) {
  return {
    isExecutable: (p: string) => executables.includes(p),
    pathEnv,
    workspaceFolders: folders,
    platform: 'linux' as NodeJS.Platform,
  };
}

test('a bare name is looked up on PATH first', () => {
  assert.deepEqual(resolveServerCommand('tide-lsp', lookup(['/bin/tide-lsp', '/ws/.venv/bin/tide-lsp'])), {
    command: '/bin/tide-lsp',
    via: 'PATH',
  });
});

test("then in the workspace's .venv", () => {
  assert.deepEqual(resolveServerCommand('tide-lsp', lookup(['/ws/.venv/bin/tide-lsp'])), {
    command: '/ws/.venv/bin/tide-lsp',
    via: 'venv',
  });
});

test('a path is used as is, relative ones against the workspace', () => {
  assert.deepEqual(resolveServerCommand('/opt/tide/bin/tide-lsp', lookup(['/opt/tide/bin/tide-lsp'])), {
    command: '/opt/tide/bin/tide-lsp',
    via: 'path',
  });
  assert.deepEqual(resolveServerCommand('.venv/bin/tide-lsp', lookup(['/ws/.venv/bin/tide-lsp'])), {
    command: '/ws/.venv/bin/tide-lsp',
    via: 'path',
  });
});

test('missing commands resolve to undefined', () => {
  assert.equal(resolveServerCommand('tide-lsp', lookup([])), undefined);
  assert.equal(resolveServerCommand('/nope/tide-lsp', lookup([])), undefined);
  assert.equal(resolveServerCommand('  ', lookup([])), undefined);
  assert.equal(resolveServerCommand('tide-lsp', lookup([], '')), undefined);
});

test('~ and ${workspaceFolder} are expanded', () => {
  assert.equal(expandCommand('~/venv/bin/tide-lsp', '/home/u', undefined), '/home/u/venv/bin/tide-lsp');
  assert.equal(expandCommand('${workspaceFolder}/.venv/bin/tide-lsp', '/home/u', '/ws'), '/ws/.venv/bin/tide-lsp');
});

test('the not-found message says how to install', () => {
  const m = notFoundMessage('tide-lsp');
  assert.match(m, /pip install -e \./);
  assert.match(m, /make demo/);
  assert.match(m, /tide\.server\.command/);
});
