/**
 * `lpclust models`: the model registry of the tracking store — list the registered models, show
 * one with its versions, and move or remove aliases (`production`, `staging`, ...), which
 * `predict`/`serve --model models:/NAME@ALIAS` follow. Thin: the work is in src/model/ and
 * src/tracking/registry.ts.
 */
import type { Command } from 'commander';
import { log } from '../../util/log.js';
import { contextFor, unknownSubcommandError } from '../context.js';

/** Register `lpclust models` and its sub-commands. */
export function register(program: Command): void {
  const models = program
    .command('models')
    .description('the model registry: registered models, their versions and aliases (models:/NAME@ALIAS for predict and serve)')
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
Models are registered by \`cluster\`, \`pipeline\` and \`sweep\` with --register-model NAME: each
call adds a version (1, 2, ...) pointing at the model/ artifact of its clustering run. An alias
names one version and can be moved; predict and serve load
  models:/NAME@ALIAS     the version an alias names (e.g. models:/uc7-clusters@production)
  models:/NAME/VERSION   one version
  models:/NAME/latest    the newest version
The registry is the tracking store's (--tracking-uri): mlruns/models/ of a file store, the
registry tables of mlflow.db, or a tracking server's; the MLflow UI shows it under "Models".

Examples:
  lpclust models                                   same as lpclust models list
  lpclust models show uc7-clusters
  lpclust models register uc7-clusters 3f2a9c1e    the model of run 3f2a9c1e... as a new version
  lpclust models alias uc7-clusters 3 production   point production at version 3
  lpclust models delete-alias uc7-clusters staging
  lpclust models list --json`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      if (cmd.args.length > 0) throw unknownSubcommandError(cmd, cmd.args[0]);
      await list(cmd);
    });

  models
    .command('list')
    .description('list the registered models: latest version, aliases, last change')
    .addHelpText('after', `
Examples:
  lpclust models list
  lpclust --tracking-uri sqlite:///mlflow.db models list --json`)
    .action(async (_opts: unknown, cmd: Command) => list(cmd));

  models
    .command('show')
    .description('print one registered model with its versions (run, source, aliases)')
    .argument('<name>', 'the registered model name')
    .addHelpText('after', `
Examples:
  lpclust models show uc7-clusters
  lpclust models show uc7-clusters --json`)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const store = await ctx.openStore({ launch: false });
      const { registryOf } = await import('../../tracking/registry.js');
      const reg = registryOf(store);
      const model = await reg.getRegisteredModel(name);
      const versions = await reg.listModelVersions(name);
      const lines = [`registered model "${model.name}" in ${store.displayUri}`, `  updated ${iso(model.lastUpdatedTimestamp)}, created ${iso(model.creationTimestamp)}`];
      if (model.description) lines.push(`  ${model.description}`);
      if (versions.length === 0) lines.push('  no versions');
      for (const v of versions) {
        lines.push(`  version ${v.version}${v.aliases.length > 0 ? ` @${v.aliases.join(' @')}` : ''}  ${v.status}  ${iso(v.creationTimestamp)}`);
        lines.push(`    run     ${v.runId ?? '-'}`);
        lines.push(`    source  ${v.source}`);
        if (v.modelId) lines.push(`    logged model  ${v.modelId}`);
      }
      ctx.print({ ...model, versions }, lines.join('\n'));
    });

  models
    .command('register')
    .description('register the model of an existing run as a new version (a pipeline or sweep run id leads to its clustering or best run)')
    .argument('<name>', 'the registered model name (created when missing)')
    .argument('<run-id>', 'the run id, or a unique prefix of at least 6 characters')
    .addHelpText('after', `
Examples:
  lpclust models register uc7-clusters 3f2a9c1e
  lpclust --tracking-uri http://localhost:5000 models register uc7-clusters 3f2a9c1e   (a run on the server)`)
    .action(async (name: string, runId: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const { registerRunModel, registeredJson, registrationLine } = await import('../../model/register.js');
      const store = await ctx.openStore({ launch: false });
      const r = await registerRunModel(store, runId, name);
      if (r.followed) log.info(r.followed);
      ctx.print(registeredJson(r), registrationLine(r));
    });

  models
    .command('alias')
    .description('point an alias at a version (moves it if it named another)')
    .argument('<name>', 'the registered model name')
    .argument('<version>', 'the version number')
    .argument('<alias>', 'the alias: letters, digits, _ and - (not "latest", not v1, v2, ...)')
    .addHelpText('after', `
Examples:
  lpclust models alias uc7-clusters 3 production    predict/serve models:/uc7-clusters@production now load version 3`)
    .action(async (name: string, versionText: string, alias: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const { parseVersion, registryOf, validateAlias } = await import('../../tracking/registry.js');
      const version = parseVersion(versionText, name);
      validateAlias(alias);
      const store = await ctx.openStore({ launch: false });
      const reg = registryOf(store);
      const before = (await reg.getRegisteredModel(name)).aliases[alias];
      await reg.setAlias(name, alias, version);
      const moved = before === undefined ? 'set' : before === version ? 'unchanged' : `moved from version ${before}`;
      ctx.print({ name, alias, version, previous: before ?? null }, `models:/${name}@${alias} → version ${version} (${moved})`);
    });

  models
    .command('delete-alias')
    .description('remove an alias (the version stays)')
    .argument('<name>', 'the registered model name')
    .argument('<alias>', 'the alias')
    .addHelpText('after', `
Examples:
  lpclust models delete-alias uc7-clusters staging`)
    .action(async (name: string, alias: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const { registryOf, validateAlias } = await import('../../tracking/registry.js');
      validateAlias(alias);
      const store = await ctx.openStore({ launch: false });
      const reg = registryOf(store);
      const before = (await reg.getRegisteredModel(name)).aliases[alias];
      await reg.deleteAlias(name, alias);
      ctx.print({ name, alias, previous: before ?? null }, before === undefined ? `"${name}" had no alias ${alias}: nothing to remove` : `removed alias ${alias} of "${name}" (it named version ${before})`);
    });
}

function iso(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

async function list(cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const store = await ctx.openStore({ launch: false });
  const { registryOf } = await import('../../tracking/registry.js');
  const all = await registryOf(store).listRegisteredModels();
  const lines = all.length === 0
    ? [`no registered models in ${store.displayUri} (register one with --register-model NAME on cluster, pipeline or sweep)`]
    : all.map((m) => {
        const aliases = Object.entries(m.aliases).map(([a, v]) => `@${a}=${v}`).join(' ');
        return `${m.name}  latest ${m.latestVersion ?? '-'}${aliases ? `  ${aliases}` : ''}  updated ${iso(m.lastUpdatedTimestamp)}`;
      });
  ctx.print({ models: all }, lines.join('\n'));
}
