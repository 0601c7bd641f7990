/**
 * `lpclust predict`: assign new days to the clusters of a saved model (a `model/` directory,
 * `runs:/<run-id>/model` or a registered `models:/NAME@ALIAS`), writing `id,date,cluster,distance,margin`.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { contextFor } from '../context.js';
import { addOptions } from '../options.js';

interface PredictFlags {
  model: string;
  in: string;
  out?: string;
}

/** Register `lpclust predict`. */
export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('assign new daily profiles to the clusters of a saved model (nearest centre under the model\'s metric)');
  addOptions(cmd, 'predict')
    .addHelpText(
      'after',
      `
The input is normalised as the model's training data was; each day goes to the nearest centre
(Euclidean, or DTW with the model's band). distance = distance to that centre, margin = distance
to the second-nearest centre minus distance (a confidence: 0 = a tie).

runs:/<id>/model: <id> is a run id or a unique prefix of it (6 characters or more). The model is
in the clustering run; given a pipeline run, predict uses its clustering run, given a sweep run,
the run of its best configuration (when it ran with one seed), and says so on stderr.

models:/<name>@<alias>: the version of a registered model an alias names (see lpclust models);
the alias is read once, when predict starts.

Examples:
  lpclust predict --model lpclust-out/cluster/<run-id>/model --in tomorrow.csv --out clusters.csv
  lpclust predict --model runs:/0a1b2c.../model --in tomorrow.csv
  lpclust predict --model runs:/3f2a9c1e/model --in tomorrow.csv     (a prefix; a pipeline run is followed)
  lpclust predict --model models:/uc7-clusters@production --in tomorrow.csv
  lpclust --tracking-uri http://localhost:5000 predict --model runs:/0a1b2c.../model --in tomorrow.csv --json`,
    )
    .action(async (flags: PredictFlags, cmd: Command) => {
      const { predictFile, resolveModel } = await import('../../model/resolve.js');
      const ctx = contextFor(cmd);
      const loaded = await resolveModel(flags.model, () => ctx.openStore({ launch: false }));
      const out = flags.out ?? `${flags.in.replace(/\.csv$/i, '')}.labels.csv`;
      const res = await predictFile(loaded, flags.in, out);
      const m = loaded.model;
      const agreement = m.training.predict_agreement;
      const lines = [
        `predicted ${res.n} profiles with ${m.model} ${m.metric} k=${m.k} (${m.run_id ? `run ${m.run_id}` : loaded.source}) → ${path.resolve(out)}`,
        `  rows per cluster  ${res.counts.join(' ')}`,
        `  training agreement  ${Number.isFinite(agreement) ? `${(agreement * 100).toFixed(2)}% of the training rows predict to their fitted cluster` : 'unknown'}`,
      ];
      ctx.print({ out: path.resolve(out), n: res.n, model: { model: m.model, metric: m.metric, k: m.k, runId: m.run_id, source: loaded.source, ...(loaded.followed ? { followed: loaded.followed } : {}) }, counts: res.counts, trainingAgreement: agreement }, lines.join('\n'));
    });
}
