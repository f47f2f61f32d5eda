/**
 * The team server's API key on its way to `tide-lsp`, kept free of the `vscode` module so that it
 * is unit-tested.
 *
 * The key is never a setting: settings files are synced and shared, and a workspace's
 * `.vscode/settings.json` is a file in the workspace, which anyone who shares the repository could
 * read or plant. It lives in VS Code's SecretStorage (*Tide: Set Team Server API Key*) and reaches
 * the server only as the `TIDE_API_KEY` environment variable of its process, so it is in no LSP
 * message, no trace and no log line. Without a stored key, a `TIDE_API_KEY` already in VS Code's
 * environment is passed through unchanged.
 */

/** The environment variable the server reads the key from (when its `apiKey` setting is unset). */
export const API_KEY_ENV = 'TIDE_API_KEY';
/** The key's name in the extension's SecretStorage. */
export const API_KEY_SECRET = 'tide.apiKey';

export type Env = Record<string, string | undefined>;

/** Where the server's key comes from: the secret storage, VS Code's environment, or nowhere. */
export type ApiKeySource = 'secret' | 'environment' | 'none';

function stored(secret: string | undefined): string | undefined {
  const key = secret?.trim();
  return key ? key : undefined;
}

/**
 * The spawned server's environment: VS Code's own, unbuffered Python output, and the stored key
 * as `TIDE_API_KEY` (over any in `base`). Without a stored key, `base`'s `TIDE_API_KEY` (or its
 * absence) is left as it is. `base` is not changed.
 */
export function serverEnv(base: Env, secret: string | undefined): Env {
  const env: Env = { ...base, PYTHONUNBUFFERED: '1' };
  const key = stored(secret);
  if (key !== undefined) {
    env[API_KEY_ENV] = key;
  }
  return env;
}

/** Where the key the server gets comes from, for the log (which never shows the key itself). */
export function apiKeySource(base: Env, secret: string | undefined): ApiKeySource {
  if (stored(secret) !== undefined) {
    return 'secret';
  }
  return base[API_KEY_ENV] ? 'environment' : 'none';
}

/** The log line that says where the key comes from, or undefined when there is none. */
export function apiKeyLogLine(source: ApiKeySource): string | undefined {
  switch (source) {
    case 'secret':
      return `team server API key: from Tide's secret storage, passed to the server as ${API_KEY_ENV}`;
    case 'environment':
      return `team server API key: ${API_KEY_ENV} from VS Code's environment, passed through`;
    default:
      return undefined;
  }
}

/**
 * The input box's check of a typed key: undefined when fine, else what is wrong. A key is one
 * word (it goes into an HTTP header): no spaces, line breaks or other control characters.
 */
export function checkApiKey(value: string): string | undefined {
  const key = value.trim();
  if (key === '') {
    return 'Type the API key (Escape cancels; "Tide: Clear Team Server API Key" removes a stored one).';
  }
  if (/[\s\u0000-\u001f\u007f]/.test(key)) {
    return 'An API key has no spaces, line breaks or control characters.';
  }
  return undefined;
}

/** `text` with every occurrence of each key replaced by `<redacted>`. */
export function redact(text: string, keys: readonly (string | undefined)[]): string {
  let out = text;
  for (const k of keys) {
    const key = k?.trim();
    if (key) {
      out = out.split(key).join('<redacted>');
    }
  }
  return out;
}

/** The keys that must never appear in the extension's log: the stored one and the environment's. */
export function secretsToHide(base: Env, secret: string | undefined): string[] {
  return [stored(secret), stored(base[API_KEY_ENV])].filter((k): k is string => k !== undefined);
}

/** The methods of a log channel (VS Code's LogOutputChannel) that write text. */
const WRITERS = ['append', 'appendLine', 'replace', 'trace', 'debug', 'info', 'warn', 'error'];

/**
 * `channel` with every argument of its writing methods redacted of `keys()`, read at each call:
 * strings, errors (as their stack) and objects (as their JSON, where it holds a key). Everything
 * else passes through to `channel` itself.
 */
export function redactingLog<T extends object>(channel: T, keys: () => readonly string[]): T {
  const hide = (a: unknown): unknown => {
    const ks = keys();
    if (ks.length === 0) {
      return a;
    }
    if (typeof a === 'string') {
      return redact(a, ks);
    }
    if (a instanceof Error) {
      return redact(String(a.stack ?? a), ks);
    }
    if (a !== null && typeof a === 'object') {
      let text: string | undefined;
      try {
        text = JSON.stringify(a);
      } catch {
        return a;
      }
      return text !== undefined && redact(text, ks) !== text ? redact(text, ks) : a;
    }
    return a;
  };
  return new Proxy(channel, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') {
        return value;
      }
      const fn = value as (...a: unknown[]) => unknown;
      if (typeof prop === 'string' && WRITERS.includes(prop)) {
        return (...args: unknown[]) => fn.apply(target, args.map(hide));
      }
      return fn.bind(target);
    },
  });
}
