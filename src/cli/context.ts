/**
 * What every command gets from the CLI: resolved global settings (with their sources), output
 * helpers that respect `--json`, and the process-wide logger.
 */
import type { Command } from 'commander';
import { GLOBAL_SETTINGS, resolveSettings, valuesOf, describeSettings, type GlobalSettings, type Resolved } from '../config.js';
import { log } from '../util/log.js';
import { progressDefaults } from '../util/progress.js';

/** Settings resolved for one invocation. */
export interface CliContext {
  /** Global settings values. */
  globals: GlobalSettings;
  /** Global settings with their sources (for logging). */
  resolved: { [K in keyof GlobalSettings]: Resolved<GlobalSettings[K]> };
  /** Print a result: `json` when `--json`, else the human text (if any). */
  print(json: unknown, human?: string): void;
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
  };
  const resolved = resolveSettings(GLOBAL_SETTINGS, { flags, env, cwd, configFile: o.config as string | undefined });
  const globals = valuesOf(resolved) as GlobalSettings;
  log.level = globals.quiet && globals.logLevel !== 'debug' ? (globals.logLevel === 'silent' ? 'silent' : 'error') : globals.logLevel;
  progressDefaults.quiet = globals.quiet || globals.logLevel === 'silent';
  for (const line of describeSettings(resolved, GLOBAL_SETTINGS)) log.debug(`setting ${line}`);
  return {
    globals,
    resolved: resolved as CliContext['resolved'],
    print(json: unknown, human?: string) {
      if (globals.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
      else if (human !== undefined && human !== '') process.stdout.write(human.endsWith('\n') ? human : human + '\n');
    },
  };
}
