import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  API_KEY_ENV,
  apiKeyLogLine,
  apiKeySource,
  checkApiKey,
  redact,
  redactingLog,
  secretsToHide,
  serverEnv,
} from '../../src/serverEnv';

const base = { PATH: '/usr/bin', HOME: '/home/dev' };

test('a stored key reaches the server as TIDE_API_KEY, beside the rest of the environment', () => {
  const env = serverEnv(base, 'sk-team-1234');
  assert.equal(env[API_KEY_ENV], 'sk-team-1234');
  assert.equal(env.PATH, '/usr/bin');
  assert.equal(env.HOME, '/home/dev');
  assert.equal(env.PYTHONUNBUFFERED, '1');
  assert.equal(apiKeySource(base, 'sk-team-1234'), 'secret');
});

test('a stored key wins over the environment, which is not changed', () => {
  const withKey = { ...base, TIDE_API_KEY: 'from-shell' };
  const env = serverEnv(withKey, ' sk-stored ');
  assert.equal(env.TIDE_API_KEY, 'sk-stored');
  assert.equal(withKey.TIDE_API_KEY, 'from-shell');
  assert.notEqual(env, withKey);
});

test("without a stored key the environment's TIDE_API_KEY is passed through unchanged", () => {
  const withKey = { ...base, TIDE_API_KEY: 'from-shell' };
  for (const secret of [undefined, '', '   ']) {
    assert.equal(serverEnv(withKey, secret).TIDE_API_KEY, 'from-shell');
    assert.equal(apiKeySource(withKey, secret), 'environment');
  }
});

test('no key anywhere: none is invented', () => {
  const env = serverEnv(base, undefined);
  assert.equal(API_KEY_ENV in env, false);
  assert.deepEqual(env, { ...base, PYTHONUNBUFFERED: '1' });
  assert.equal(apiKeySource(base, undefined), 'none');
  assert.equal(apiKeyLogLine('none'), undefined);
});

test('the log line says where the key comes from, never the key', () => {
  for (const source of ['secret', 'environment'] as const) {
    const line = apiKeyLogLine(source);
    assert.ok(line);
    assert.match(line, /TIDE_API_KEY/);
  }
});

test('the input box takes one word', () => {
  assert.equal(checkApiKey('sk-abc.DEF_123'), undefined);
  assert.equal(checkApiKey('  sk-abc  '), undefined);
  assert.ok(checkApiKey(''));
  assert.ok(checkApiKey('   '));
  assert.ok(checkApiKey('sk abc'));
  assert.ok(checkApiKey('sk-abc\nX-Injected: 1'));
  assert.ok(checkApiKey('sk\u0007abc'));
});

test('redaction hides every occurrence of every key, and nothing else', () => {
  const keys = secretsToHide({ TIDE_API_KEY: 'env-key-9' }, 'sk-stored');
  assert.deepEqual(keys, ['sk-stored', 'env-key-9']);
  const line = 'Authorization: Bearer sk-stored; again sk-stored; env env-key-9; model http://h:8080';
  const out = redact(line, keys);
  assert.equal(out.includes('sk-stored'), false);
  assert.equal(out.includes('env-key-9'), false);
  assert.equal(out, 'Authorization: Bearer <redacted>; again <redacted>; env <redacted>; model http://h:8080');
  assert.equal(redact('nothing to hide', []), 'nothing to hide');
  assert.deepEqual(secretsToHide({}, undefined), []);
  assert.deepEqual(secretsToHide({ TIDE_API_KEY: '' }, '  '), []);
});

test('the redacting log hides the keys in every writing method, and passes the rest through', () => {
  const lines: unknown[][] = [];
  class Channel {
    #name = 'Tide';
    logLevel = 2;
    get name(): string {
      return this.#name;
    }
    info(...a: unknown[]): void {
      lines.push(['info', ...a]);
    }
    error(...a: unknown[]): void {
      lines.push(['error', ...a]);
    }
    appendLine(a: string): void {
      lines.push(['appendLine', a]);
    }
    show(): string {
      return `shown ${this.#name}`;
    }
  }
  let keys = ['sk-secret-1'];
  const log = redactingLog(new Channel(), () => keys);
  log.info('Bearer sk-secret-1', { env: { TIDE_API_KEY: 'sk-secret-1' } }, 3);
  log.error(new Error('refused sk-secret-1'));
  log.appendLine('[Trace] sk-secret-1');
  assert.equal(log.show(), 'shown Tide');
  assert.equal(log.name, 'Tide');
  assert.equal(log.logLevel, 2);
  assert.equal(JSON.stringify(lines).includes('sk-secret-1'), false);
  assert.equal(lines[0][1], 'Bearer <redacted>');
  assert.equal(lines[0][2], '{"env":{"TIDE_API_KEY":"<redacted>"}}');
  assert.equal(lines[0][3], 3);
  assert.match(String(lines[1][1]), /^Error: refused <redacted>/);
  assert.equal(lines[2][1], '[Trace] <redacted>');
  // Keys are read at each call: a cleared key is no longer hidden, an object without one is kept.
  keys = [];
  const obj = { a: 1 };
  log.info('sk-secret-1', obj);
  assert.deepEqual(lines[3], ['info', 'sk-secret-1', obj]);
});
