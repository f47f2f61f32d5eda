/**
 * The server's `tide/inlineCompletionReady` notification: a suggestion it answered early (at its
 * time limit, with the model still going) has grown. Asking again at the same place gets the
 * whole at once, so the ghost text grows without a keystroke. Pure logic, tested without VS Code.
 */

/** Where the editor is: the document (as the server names it), its version, the cursor. */
export interface Place {
  uri: string;
  version: number;
  line: number;
  character: number;
}

/** The notification's params, checked; undefined when malformed. */
export function parseReady(raw: unknown): Place | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const { textDocument, position } = raw as { textDocument?: unknown; position?: unknown };
  if (typeof textDocument !== 'object' || textDocument === null) {
    return undefined;
  }
  if (typeof position !== 'object' || position === null) {
    return undefined;
  }
  const { uri, version } = textDocument as { uri?: unknown; version?: unknown };
  const { line, character } = position as { line?: unknown; character?: unknown };
  if (typeof uri !== 'string' || !Number.isInteger(version) || !Number.isInteger(line) || !Number.isInteger(character)) {
    return undefined;
  }
  return { uri, version: version as number, line: line as number, character: character as number };
}

/** Whether `ready` is for the place the editor is at now: nothing typed or moved since. */
export function samePlace(ready: Place, now: Place | undefined): boolean {
  return (
    now !== undefined &&
    ready.uri === now.uri &&
    ready.version === now.version &&
    ready.line === now.line &&
    ready.character === now.character
  );
}
