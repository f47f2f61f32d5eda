/**
 * Status bar text for Tide: pure formatting of the server's `tide/status` notification.
 *
 * Kept free of the `vscode` module so it can be unit-tested with node's test runner.
 */

export type TideState = 'starting' | 'downloading' | 'loading' | 'ready' | 'error' | 'stopped';

/** The `tide/status` notification's params, as the server sends them. */
export interface TideStatusParams {
  state: TideState;
  model?: string | null;
  percent?: number | null;
  message?: string | null;
  /** The LoRA adapter on the model (`tide-lsp tune`), when one is in use. */
  adapter?: string | null;
  latencyMs?: number | null;
}

export interface StatusView {
  /** Status bar text, with codicons. */
  text: string;
  /** Markdown-free tooltip text. */
  tooltip: string;
  /** 'error' and 'warning' map to the status bar's background colours. */
  severity: 'normal' | 'warning' | 'error';
}

/** A model path shortened to its file name, without a `.gguf` extension. */
export function shortModelName(model: string | null | undefined): string {
  if (!model) {
    return '';
  }
  const base = model.split(/[\\/]/).filter((p) => p.length > 0).pop() ?? model;
  return base.replace(/\.gguf$/i, '');
}

/** `850 ms`, `1.2 s`, `12 s`. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 10_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  return `${Math.round(ms / 1000)} s`;
}

function clampPercent(p: number | null | undefined): number | undefined {
  if (p === null || p === undefined || !Number.isFinite(p)) {
    return undefined;
  }
  return Math.max(0, Math.min(100, Math.round(p)));
}

/**
 * What the status bar shows for a status and whether completions are enabled.
 *
 * The state word always appears in the text (so it is readable without the icon), the model name
 * when known, and the last completion's latency once ready.
 */
export function formatStatus(status: TideStatusParams, enabled: boolean): StatusView {
  const model = shortModelName(status.model);
  const adapter = status.state === 'ready' && status.adapter ? ' +adapter' : '';
  const modelPart = model ? ` ${model}${adapter}` : adapter;
  const latency = formatLatency(status.latencyMs);
  const tooltipLines: string[] = [];
  tooltipLines.push(`Tide${model ? ` (${status.model})` : ''}`);
  let text: string;
  let severity: StatusView['severity'] = 'normal';
  switch (status.state) {
    case 'downloading': {
      const pct = clampPercent(status.percent);
      text = `$(cloud-download) Tide${modelPart}: downloading${pct !== undefined ? ` ${pct}%` : ''}`;
      tooltipLines.push(`Downloading the model${pct !== undefined ? ` (${pct}%)` : ''}.`);
      break;
    }
    case 'loading':
      text = `$(loading~spin) Tide${modelPart}: loading`;
      tooltipLines.push('Loading the model.');
      break;
    case 'ready':
      if (enabled) {
        text = `$(sparkle) Tide${modelPart}: ready${latency ? ` · ${latency}` : ''}`;
        tooltipLines.push(latency ? `Ready; last completion took ${latency}.` : 'Ready.');
        if (status.adapter) {
          tooltipLines.push(`LoRA adapter: ${status.adapter}.`);
        }
      } else {
        text = `$(circle-slash) Tide${modelPart}: off`;
        tooltipLines.push('Completions are off.');
        severity = 'warning';
      }
      break;
    case 'error':
      text = `$(error) Tide${modelPart}: error`;
      tooltipLines.push('The server reported an error.');
      severity = 'error';
      break;
    case 'stopped':
      text = `$(debug-stop) Tide: stopped`;
      tooltipLines.push('The server is not running.');
      severity = 'error';
      break;
    case 'starting':
    default:
      text = `$(loading~spin) Tide${modelPart}: starting`;
      tooltipLines.push('Starting the server.');
      break;
  }
  if (status.message) {
    tooltipLines.push(status.message);
  }
  if (status.state !== 'ready' || enabled) {
    tooltipLines.push(enabled ? 'Click to turn completions off.' : 'Click to turn completions on.');
  } else {
    tooltipLines.push('Click to turn completions on.');
  }
  return { text, tooltip: tooltipLines.join('\n'), severity };
}

/** Accepts anything and returns a well-formed status, or undefined when it is not one. */
export function parseStatus(raw: unknown): TideStatusParams | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const states: TideState[] = ['starting', 'downloading', 'loading', 'ready', 'error', 'stopped'];
  if (typeof r.state !== 'string' || !states.includes(r.state as TideState)) {
    return undefined;
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    state: r.state as TideState,
    model: str(r.model),
    percent: num(r.percent),
    message: str(r.message),
    adapter: str(r.adapter),
    latencyMs: num(r.latencyMs),
  };
}

/**
 * Merges a new status into the previous one: a status without a latency keeps the last known one,
 * and one without a model name keeps the last known model.
 */
export function mergeStatus(prev: TideStatusParams | undefined, next: TideStatusParams): TideStatusParams {
  return {
    ...next,
    model: next.model ?? prev?.model ?? null,
    latencyMs: next.latencyMs ?? prev?.latencyMs ?? null,
  };
}
