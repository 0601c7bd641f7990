/**
 * What every command gets from the CLI: resolved global settings (with their sources), output
 * helpers that respect `--json`, and the process-wide logger.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { GLOBAL_SETTINGS, readDotenv, resolveSettings, valuesOf, describeSettings, type GlobalSettings, type Resolved } from '../config.js';
import { usageError, type LpclustError } from '../errors.js';
import { openStore } from '../tracking/index.js';
import { launchDefaults, launchTargetFromEnv } from '../tracking/launcher.js';
import type { TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';
import { isSecretName, registerSecret } from '../util/mask.js';
import { progressDefaults } from '../util/progress.js';

/** Settings resolved for one invocation. */
export interface CliContext {
  /** Global settings values. */
  globals: GlobalSettings;
  /** Global settings with their sources (for logging). */
  resolved: { [K in keyof GlobalSettings]: Resolved<GlobalSettings[K]> };
  /** Print a result: `json` when `--json`, else the human text (if any). */
  print(json: unknown, human?: string): void;
  /**
   * Open the tracking store of `--tracking-uri` (with `--spool-dir` for a server). Under
   * `mlflow run` (MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_ID set) it also points `globals.experimentName`
   * at the launcher's experiment and makes the launcher's run the parent of the runs this process
   * starts: read `globals.experimentName` after awaiting it. `launch: false` (commands that start
   * no run, such as `runs`) skips that.
   */
  openStore(options?: { launch?: boolean }): Promise<TrackingStore>;
}

/**
 * Resolve the global settings for a command from its flags (commander merges the program's global
 * options into `optsWithGlobals`), the environment, `.env` and `lpclust.config.json`, and apply
 * the log level and quiet switch.
 */
export function contextFor(cmd: Command, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): CliContext {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  const flags: Record<string, unknown> = {
    trackingUri: o.trackingUri,
    experimentName: o.experimentName,
    logLevel: o.logLevel,
    quiet: o.quiet,
    json: o.json,
    spoolDir: o.spoolDir,
  };
  registerEnvironmentSecrets(env, cwd);
  const resolved = resolveSettings(GLOBAL_SETTINGS, { flags, env, cwd, configFile: o.config as string | undefined });
  const globals = valuesOf(resolved) as GlobalSettings;
  log.level = globals.quiet && globals.logLevel !== 'debug' ? (globals.logLevel === 'silent' ? 'silent' : 'error') : globals.logLevel;
  progressDefaults.quiet = globals.quiet || globals.logLevel === 'silent' || globals.json;
  for (const line of describeSettings(resolved, GLOBAL_SETTINGS)) log.debug(`setting ${line}`);
  return {
    globals,
    resolved: resolved as CliContext['resolved'],
    async openStore(options: { launch?: boolean } = {}) {
      const store = await openStore(globals.trackingUri, { cwd, spoolDir: globals.spoolDir });
      if (options.launch !== false) await applyLaunchTarget(store, env, globals, resolved.experimentName);
      return store;
    },
    print(json: unknown, human?: string) {
      if (globals.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
      else if (human !== undefined && human !== '') process.stdout.write(human.endsWith('\n') ? human : human + '\n');
    },
  };
}

/**
 * Under `mlflow run`: log into the launcher's experiment, under the launcher's run (see
 * tracking/launcher.ts). An experiment name given explicitly for another experiment is overridden,
 * with a warning, because runs in another experiment would not nest under the launcher's run.
 */
async function applyLaunchTarget(store: TrackingStore, env: Record<string, string | undefined>, globals: GlobalSettings, experimentName: Resolved<string>): Promise<void> {
  const target = await launchTargetFromEnv(store, env);
  if (!target) return;
  const name = target.experiment.name;
  if (experimentName.source !== 'default' && experimentName.value !== name) {
    log.warn(`logging into experiment "${name}" (${target.parentRunId ? `of the run MLFLOW_RUN_ID=${target.parentRunId} that \`mlflow run\` opened` : `MLFLOW_EXPERIMENT_ID=${target.experiment.experimentId}`}), not "${experimentName.value}" from ${experimentName.from}`);
  }
  // The settings are read-only for commands; this is the one place a resolved value is replaced.
  (globals as { experimentName: string }).experimentName = name;
  if (target.parentRunId) {
    launchDefaults.parentRunId = target.parentRunId;
    log.debug(`runs nest under MLFLOW_RUN_ID=${target.parentRunId} in experiment "${name}"`);
  }
}

/**
 * Register the values of secret-named variables (`*_PASSWORD`, `*_TOKEN`, ...) of the environment
 * and of `./.env`, so that they are masked wherever they would appear (logs, params, tags, errors).
 */
export function registerEnvironmentSecrets(env: Record<string, string | undefined>, cwd: string): void {
  for (const [name, value] of Object.entries(env)) if (isSecretName(name)) registerSecret(value);
  for (const [name, value] of Object.entries(readDotenv(path.join(cwd, '.env')))) if (isSecretName(name)) registerSecret(value);
}

/** Edit distance with adjacent transpositions (optimal string alignment): `shwo` → `show` is 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidates closest to `word` (distance ≤ 40 % of its length, at least 1), best first. */
export function suggestSimilar(word: string, candidates: readonly string[]): string[] {
  const scored = candidates
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(1, Math.floor(Math.max(word.length, c.length) * 0.4)));
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best).map((s) => s.c);
}

/**
 * The usage error for an unknown word after a command that has sub-commands and an action of its
 * own (commander reports it only as "too many arguments"), with a suggestion.
 */
export function unknownSubcommandError(cmd: Command, word: string): LpclustError {
  const names = cmd.commands.map((c) => c.name());
  const similar = suggestSimilar(word, names);
  return usageError(
    'E_USAGE_COMMAND',
    `unknown sub-command '${word}' of 'lpclust ${cmd.name()}'${similar.length > 0 ? ` (did you mean ${similar.join(' or ')}?)` : ''}`,
    { hint: `sub-commands: ${names.join(', ')}; see lpclust ${cmd.name()} --help` },
  );
}
