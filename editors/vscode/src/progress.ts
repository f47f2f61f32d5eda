/**
 * Pure arithmetic for showing LSP work-done progress in `window.withProgress`, which takes
 * increments rather than absolute percentages.
 */

export class PercentTracker {
  private reported = 0;

  /** The increment to report for an absolute percentage (never negative, never past 100). */
  increment(percentage: number | undefined): number | undefined {
    if (percentage === undefined || !Number.isFinite(percentage)) {
      return undefined;
    }
    const p = Math.max(0, Math.min(100, percentage));
    const delta = Math.max(0, p - this.reported);
    this.reported += delta;
    return delta;
  }

  get total(): number {
    return this.reported;
  }
}
