/**
 * The commands of the CLI, in the order `--help` lists them. Each module adds one command (with
 * its sub-commands) to the program; add a line here for a new command.
 */
import type { Command } from 'commander';
import { register as cluster } from './cluster.js';
import { register as validate } from './validate.js';
import { register as runs } from './runs.js';
import { register as sync } from './sync.js';
import { register as etl } from './etl.js';
import { register as harmonize } from './harmonize.js';
import { register as dtw } from './dtw.js';
import { register as doctor } from './doctor.js';
import { register as pipeline } from './pipeline.js';
import { register as predict } from './predict.js';
import { register as serve } from './serve.js';
import { register as sweep } from './sweep.js';

/** A command module. */
export type RegisterCommand = (program: Command) => void;

/** Every command of lpclust. */
export const COMMANDS: RegisterCommand[] = [pipeline, sweep, runs, sync, etl, harmonize, dtw, cluster, validate, predict, serve, doctor];
