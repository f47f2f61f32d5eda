/**
 * Choosing which quick fix "Tide: Fix at cursor" applies. Works on plain records so that it can be
 * unit-tested; the extension maps `vscode.CodeAction`s onto them.
 */

export interface FixCandidate {
  title: string;
  kind?: string;
  isPreferred?: boolean;
  /** Sources of the diagnostics the action fixes. */
  diagnosticSources: string[];
  disabled?: boolean;
}

/** Tide's quick fixes among all code actions, best first; other providers' actions are dropped. */
export function rankTideFixes<T extends FixCandidate>(actions: readonly T[]): T[] {
  const quick = actions.filter(
    (a) => !a.disabled && (a.kind === undefined || a.kind === 'quickfix' || a.kind.startsWith('quickfix.')),
  );
  const tide = quick.filter((a) => a.diagnosticSources.includes('tide') || /\btide\b/i.test(a.kind ?? ''));
  const pool = tide.length > 0 ? tide : [];
  // Stable sort: preferred first, otherwise the server's order.
  return pool
    .map((a, i) => ({ a, i }))
    .sort((x, y) => Number(!!y.a.isPreferred) - Number(!!x.a.isPreferred) || x.i - y.i)
    .map((x) => x.a);
}

/** Whether to apply the first fix without asking: one fix, or one preferred fix. */
export function applyWithoutAsking(ranked: readonly FixCandidate[]): boolean {
  if (ranked.length === 1) {
    return true;
  }
  return ranked.filter((a) => a.isPreferred).length === 1;
}
