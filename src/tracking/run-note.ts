/**
 * The run description the MLflow UI shows (tag `mlflow.note.content`, Markdown) of a top-level
 * run: the command line that started it (passwords masked by the run context) and, once it ends,
 * its status and key figures — the params and metrics `lpclust runs` lists first, and its nested runs.
 */
import { formatMetricValue, keyMetrics, keyParams } from './runs-view.js';
import type { Run, RunStatus } from './store.js';

/** The tag MLflow's UI reads as a run's description. */
export const NOTE_TAG = 'mlflow.note.content';

/** The command line as a user would type it again: words with spaces or shell characters single-quoted. */
export function commandLineText(args: readonly string[]): string {
  return ['lpclust', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The note of a run starting: the command line only. */
export function startNote(commandLine: string): string {
  return `**Command**\n\n\`\`\`\n${commandLine}\n\`\`\`\n`;
}

/**
 * The note of an ended run: the command line, the status, the key params and metrics as a table,
 * the number of nested runs, and the error of a failed run.
 */
export function endNote(commandLine: string, run: Run, status: RunStatus, children: number, error?: string): string {
  const rows: Array<[string, string]> = [];
  for (const p of keyParams(run.data.params)) {
    const eq = p.indexOf('=');
    rows.push([p.slice(0, eq), p.slice(eq + 1)]);
  }
  for (const m of keyMetrics(run.data.metrics)) rows.push([m.name, formatMetricValue(run.data.metrics[m.name])]);
  if (children > 0) rows.push(['nested runs', String(children)]);
  let text = `${startNote(commandLine)}\n**${status}**${error ? `: ${cell(error)}` : ''}\n`;
  if (rows.length > 0) text += `\n| figure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`).join('\n')}\n`;
  return text;
}

/** A Markdown table cell: one line, pipes escaped. */
function cell(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}
