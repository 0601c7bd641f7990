/**
 * The lpclust CLI: commander wiring only. Commands live in `commands/`, one file each; the work
 * they do lives in the library. This is the one place that turns errors into messages and exit codes.
 *
 * Start-up is kept short (issue 16): only the modules of the command being run are imported
 * (none for `--version`; all, which are light, for `--help` and for a command name commander must
 * suggest a correction for), and each command imports its heavy work inside its action.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT_CODES, InterruptedError, isLpclustError } from '../errors.js';
import { log } from '../util/log.js';
import { maskSecrets } from '../util/mask.js';
import { COMMANDS, type CommandEntry } from './commands/index.js';
import { addGlobalOptions, COMMAND_OPTIONS, loadModelCatalogue, MODEL_OPTION_IDS, renderOption } from './options.js';
import { invocation } from '../util/invocation.js';

/** lpclust's version, from package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Whether a command (or one of its sub-commands) takes an option whose choices come from the model registry. */
function takesModelOptions(command: string): boolean {
  return Object.entries(COMMAND_OPTIONS).some(([name, uses]) => (name === command || name.startsWith(`${command} `)) && uses.some((u) => MODEL_OPTION_IDS.includes(u.id)));
}

/**
 * Build the commander program (exported for tests and help generation).
 * @param argv the command line (as process.argv) the program is built for: only the commands it
 *   can dispatch to are loaded; without it, every command (the complete program)
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = addGlobalOptions(
    new Command('lpclust').description('Cluster electricity load profiles and track every run in MLflow.').version(VERSION, '-V, --version', 'print the lpclust version'),
  )
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
    .addHelpText(
      'after',
      `
Configuration precedence, for every option of every command: flags > environment (LPCLUST_*, MLFLOW_*) > ./.env >
lpclust.config.json (global keys at the top level, a command's options in its section, e.g. "dtw": {"radius": 2}) > defaults.
View runs: lpclust runs, or the MLflow UI: mlflow ui --backend-store-uri sqlite:///mlflow.db
(a ./mlruns file store: mlflow ui --backend-store-uri ./mlruns; MLflow 3 also needs MLFLOW_ALLOW_FILE_STORE=true)`,
    );
  const wanted = argv === undefined ? COMMANDS : commandsFor(program, argv.slice(2));
  // Commands with model options read the model registry's lists (loaded only for them: start-up).
  if (wanted.some((c) => takesModelOptions(c.name))) await loadModelCatalogue();
  // Loaded together, registered in table order: `--help` lists the commands in that order.
  const modules = await Promise.all(wanted.map((c) => c.load()));
  for (const m of modules) m.register(program);
  program.exitOverride();
  program.configureOutput({
    outputError: (str, write) => write(red(str.replace(/^error: /, 'lpclust: '))),
  });
  for (const cmd of program.commands) applyToTree(cmd);
  return program;
}

/**
 * The commands an invocation needs, from its arguments (argv without node and the script): the one
 * it names; none for a bare `--version`; every command otherwise (help lists them all, and a
 * misspelt name is answered with the closest ones). The values of the program's own options are
 * skipped, so `--experiment-name dtw runs` runs `runs`. Anything this scan does not understand
 * loads every command, which is always correct, only slower.
 */
export function commandsFor(program: Command, args: readonly string[]): readonly CommandEntry[] {
  let version = false;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a.startsWith('-') && a.length > 1) {
      const eq = a.indexOf('=');
      const flag = eq > 0 ? a.slice(0, eq) : a;
      if (flag === '-V' || flag === '--version') version = true;
      if (flag === '-h' || flag === '--help') help = true;
      const opt = program.options.find((o) => o.long === flag || o.short === flag);
      // A value in the next word: `--tracking-uri <uri>` always takes it, `[value]` unless it is an option.
      if (opt && eq < 0 && (opt.required || (opt.optional && i + 1 < args.length && !args[i + 1].startsWith('-')))) i++;
      continue;
    }
    const named = COMMANDS.find((c) => c.name === a);
    return named ? [named] : COMMANDS;
  }
  return version && !help ? [] : COMMANDS;
}

function applyToTree(cmd: Command): void {
  cmd.exitOverride();
  cmd.showSuggestionAfterError(true);
  cmd.configureOutput({ outputError: (str, write) => write(red(str.replace(/^error: /, 'lpclust: '))) });
  for (const sub of cmd.commands) applyToTree(sub);
}

/**
 * Run the CLI with `argv` (as process.argv) and return the exit code; never calls process.exit so
 * that open runs and files are closed first.
 */
export async function main(argv: string[]): Promise<number> {
  // `lpclust ... | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  let uninstall = (): void => {};
  try {
    const program = await buildProgram(argv);
    const named = commandsFor(program, argv.slice(2));
    if (named.length === 1) invocation.command = named[0].name;
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT_CODES.usage;
    }
    // The handlers (and the tracking modules they use) matter only when a command can run.
    if (program.commands.length > 0) uninstall = (await import('./signals.js')).installSignalHandlers();
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    uninstall();
  }
}

/** Print one clear line for an error (plus hint, plus stack at debug) and return the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version "errors" are normal exits; commander already printed the message.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return EXIT_CODES.usage;
  }
  if (isLpclustError(e)) {
    // A library error about an option names it by its library name: show the flag.
    process.stderr.write(red(`lpclust: ${maskSecrets(renderOption(e.message, e.option))}`) + '\n');
    if (e.hint) process.stderr.write(`  hint: ${maskSecrets(renderOption(e.hint, e.option))}\n`);
    if (log.enabled('debug') && e.stack) process.stderr.write(maskSecrets(e.stack) + '\n');
    return e instanceof InterruptedError ? EXIT_CODES.interrupted : e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(red(`lpclust: internal error: ${maskSecrets(err.message)}`) + '\n');
  process.stderr.write('  hint: this is a bug in lpclust; rerun with --log-level debug and report the output\n');
  if (log.enabled('debug') && err.stack) process.stderr.write(maskSecrets(err.stack) + '\n');
  return EXIT_CODES.internal;
}

function red(s: string): string {
  return process.stderr.isTTY && !process.env.NO_COLOR ? `\x1b[31m${s}\x1b[0m` : s;
}
