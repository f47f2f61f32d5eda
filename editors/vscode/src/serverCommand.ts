/**
 * Finds the `tide-lsp` executable. Pure apart from the injected file checks, so it is unit-tested.
 */
import * as path from 'node:path';

export interface Lookup {
  /** Whether this path is an executable file. */
  isExecutable(p: string): boolean;
  /** The PATH variable. */
  pathEnv: string | undefined;
  /** Workspace folder paths, searched for `.venv/bin/<name>` when the name is not on PATH. */
  workspaceFolders: readonly string[];
  platform: NodeJS.Platform;
}

export interface Resolved {
  command: string;
  /** Where it was found: 'path' (an explicit path), 'PATH', or 'venv'. */
  via: 'path' | 'PATH' | 'venv';
}

/** Expands a leading `~` and `${workspaceFolder}`. */
export function expandCommand(command: string, home: string, workspaceFolder: string | undefined): string {
  let c = command.trim();
  if (c === '~' || c.startsWith('~/')) {
    c = path.join(home, c.slice(1));
  }
  if (workspaceFolder !== undefined) {
    c = c.split('${workspaceFolder}').join(workspaceFolder);
  }
  return c;
}

export function resolveServerCommand(command: string, lookup: Lookup): Resolved | undefined {
  const c = command.trim();
  if (c === '') {
    return undefined;
  }
  const exts = lookup.platform === 'win32' ? ['', '.exe', '.cmd', '.bat'] : [''];
  if (c.includes('/') || c.includes('\\')) {
    for (const folder of path.isAbsolute(c) ? [''] : ['', ...lookup.workspaceFolders]) {
      const p = folder ? path.resolve(folder, c) : c;
      for (const e of exts) {
        if (lookup.isExecutable(p + e)) {
          return { command: p + e, via: 'path' };
        }
      }
    }
    return undefined;
  }
  const sep = lookup.platform === 'win32' ? ';' : ':';
  for (const dir of (lookup.pathEnv ?? '').split(sep)) {
    if (!dir) {
      continue;
    }
    for (const e of exts) {
      const p = path.join(dir, c + e);
      if (lookup.isExecutable(p)) {
        return { command: p, via: 'PATH' };
      }
    }
  }
  const bin = lookup.platform === 'win32' ? 'Scripts' : 'bin';
  for (const folder of lookup.workspaceFolders) {
    for (const venv of ['.venv', 'venv']) {
      for (const e of exts) {
        const p = path.join(folder, venv, bin, c + e);
        if (lookup.isExecutable(p)) {
          return { command: p, via: 'venv' };
        }
      }
    }
  }
  return undefined;
}

/** The notification text shown when the server cannot be found. */
export function notFoundMessage(command: string): string {
  return (
    `Tide: the language server \`${command}\` was not found. ` +
    'Install it from the Tide checkout with `pip install -e .` (or `make demo`, which also fetches the model), ' +
    'then reload the window, or set `tide.server.command` to the path of `tide-lsp`.'
  );
}
