/**
 * Maps VS Code's `tide.*` settings to the server's settings object (camelCase keys).
 *
 * The server's contract: `initializationOptions` is this object, and
 * `workspace/didChangeConfiguration` sends `{"settings": {"tide": <this object>}}`.
 * Client-only settings (`tide.server.*`) are not sent. A setting left at its default is left out
 * (empty strings and nulls, and booleans at the server's default), so that the server's own
 * default applies; `enable` and `disabledLanguages` are always sent. The server merges each
 * update into its current settings, so a key that was sent before and is now back at its default
 * is sent as `null` (see `settingsUpdate`), which asks the server for its default again.
 *
 * The team server's API key is not a setting here (settings files are synced and shared, and a
 * workspace's `.vscode/settings.json` is a file in the workspace): see `serverEnv.ts`.
 */

export interface ServerSettings {
  model?: string;
  modelDir?: string;
  contextBudget?: number;
  maxTokens?: number;
  maxLines?: number;
  enable?: boolean;
  disabledLanguages?: string[];
  diagnostics?: boolean;
  verifyFixes?: boolean;
  runTests?: boolean;
  testTimeout?: number;
  threads?: number;
  logLevel?: string;
  engine?: string;
  unlikelySeverity?: string;
  candidates?: number;
  precompute?: boolean;
  moveKv?: boolean;
  adapter?: string;
  serverTimeout?: number;
  serverCaFile?: string;
}

/** Reads one setting below `tide.`; `vscode.WorkspaceConfiguration.get` fits. */
export type SettingReader = (key: string) => unknown;

const STRING_KEYS = ['model', 'modelDir', 'logLevel', 'engine', 'unlikelySeverity', 'adapter', 'serverCaFile'] as const;
const INT_KEYS = ['contextBudget', 'maxTokens', 'maxLines', 'threads', 'candidates', 'testTimeout'] as const;
/** Positive numbers, fractions allowed (seconds); the server checks the range. */
const NUMBER_KEYS = ['serverTimeout'] as const;
const BOOL_KEYS = ['enable', 'diagnostics', 'verifyFixes', 'runTests', 'precompute', 'moveKv'] as const;

/** Boolean keys sent only when they differ from these defaults (the server's defaults too). */
const BOOL_DEFAULTS: Record<string, boolean> = {
  diagnostics: true,
  verifyFixes: true,
  runTests: false,
  precompute: true,
  moveKv: false,
};

/** Every `tide.*` key that the server receives. */
export const SERVER_KEYS: readonly string[] = [...STRING_KEYS, ...INT_KEYS, ...NUMBER_KEYS, ...BOOL_KEYS, 'disabledLanguages'];

/** Every setting (below `tide.`) whose change must reach the server. */
export function affectsServer(key: string): boolean {
  return SERVER_KEYS.includes(key);
}

/** Builds the server's settings object; `problems` collects values that were ignored and why. */
export function toServerSettings(read: SettingReader, problems: string[] = []): ServerSettings {
  const out: ServerSettings = {};
  for (const key of STRING_KEYS) {
    const v = read(key);
    if (v === undefined || v === null) {
      continue;
    }
    if (typeof v !== 'string') {
      problems.push(`tide.${key} must be a string`);
      continue;
    }
    const trimmed = v.trim();
    if (trimmed !== '') {
      out[key] = trimmed;
    }
  }
  for (const key of INT_KEYS) {
    const v = read(key);
    if (v === undefined || v === null || v === '') {
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      problems.push(`tide.${key} must be a positive integer (got ${JSON.stringify(v)})`);
      continue;
    }
    out[key] = v;
  }
  for (const key of NUMBER_KEYS) {
    const v = read(key);
    if (v === undefined || v === null || v === '') {
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      problems.push(`tide.${key} must be a positive number (got ${JSON.stringify(v)})`);
      continue;
    }
    out[key] = v;
  }
  for (const key of BOOL_KEYS) {
    const v = read(key);
    if (v === undefined || v === null) {
      continue;
    }
    if (typeof v !== 'boolean') {
      problems.push(`tide.${key} must be true or false`);
      continue;
    }
    if (BOOL_DEFAULTS[key] !== v) {
      out[key] = v;
    }
  }
  const langs = read('disabledLanguages');
  if (Array.isArray(langs)) {
    const ids = langs.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim());
    if (ids.length !== langs.length) {
      problems.push('tide.disabledLanguages must be a list of language ids');
    }
    out.disabledLanguages = [...new Set(ids)];
  } else if (langs !== undefined && langs !== null) {
    problems.push('tide.disabledLanguages must be a list of language ids');
  }
  return out;
}

export type SettingsUpdate = { [K in keyof ServerSettings]?: ServerSettings[K] | null };

/**
 * The settings object for `workspace/didChangeConfiguration`: the new settings, plus `null` for
 * every key sent before that is now back at its default.
 */
export function settingsUpdate(previous: ServerSettings | undefined, next: ServerSettings): SettingsUpdate {
  const out: SettingsUpdate = { ...next };
  for (const key of Object.keys(previous ?? {}) as (keyof ServerSettings)[]) {
    if (!(key in next)) {
      out[key] = null;
    }
  }
  return out;
}

/** The `workspace/didChangeConfiguration` params for a settings update. */
export function didChangeConfigurationParams(update: SettingsUpdate): { settings: { tide: SettingsUpdate } } {
  return { settings: { tide: update } };
}

/** Whether completions are wanted for a document of this language. */
export function completionsEnabledFor(settings: ServerSettings, languageId: string): boolean {
  if (settings.enable === false) {
    return false;
  }
  return !(settings.disabledLanguages ?? []).includes(languageId);
}

/** The new `tide.disabledLanguages` after toggling one language. */
export function toggleLanguage(disabled: readonly string[], languageId: string): string[] {
  return disabled.includes(languageId) ? disabled.filter((l) => l !== languageId) : [...disabled, languageId];
}
