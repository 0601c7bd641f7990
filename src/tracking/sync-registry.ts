/**
 * `lpclust sync`, second half: copy the model registry of the source store (a FileStore's
 * `models/`, a database's registry tables, or the spool, where registrations made while the server
 * was unreachable wait) to the target store — registered models, their versions and aliases —
 * after the runs, so that every version points at the target's copy of its run.
 *
 * A version's source is rewritten for the target: the synced run's `model/` artifact URI there,
 * or, when the target keeps MLflow 3 logged models, `models:/<model_id>` of the synced run's
 * logged model (made from the run's model files when the target has none yet, as MLflow 3 would
 * have made it). Idempotent: a target version made from the same target run counts as the copy of
 * the source version (in version order), so a second sync creates nothing and moves no alias.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { isLpclustError } from '../errors.js';
import { withScratchDir, writeFileAtomic } from '../io/atomic.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { loggedModelIdOf, loggedModelsOf, registryOf, type LoggedModel, type ModelRegistry, type ModelVersion } from './registry.js';
import type { TrackingStore } from './store.js';
import { localPathOf } from './store-uri.js';

/** What {@link syncRegistry} did. */
export interface RegistrySyncReport {
  /** Registered models of the source that were copied (created or found on the target). */
  models: number;
  /** Versions created on the target by this sync. */
  versionsCreated: number;
  /** Versions already on the target (from an earlier sync). */
  versionsPresent: number;
  /** Aliases set or moved on the target. */
  aliasesSet: number;
  /** Versions not copied, with the reason (their run was not synced, or its model is missing). */
  skipped: string[];
}

/** The registry of a store, or null for a store without one. */
function registryOrNull(store: TrackingStore): ModelRegistry | null {
  try {
    return registryOf(store);
  } catch (e) {
    if (isLpclustError(e) && e.code === 'E_REGISTRY_UNSUPPORTED') return null;
    throw e;
  }
}

/**
 * The artifact path (below the run's artifact root) a source version points at: `model` for a
 * logged model or a `runs:/` URI without a path, else the part of its source below the run's root.
 */
async function artifactOf(from: TrackingStore, v: ModelVersion, runRoot: string): Promise<string | null> {
  const strip = (s: string): string => s.replace(/\/+$/, '');
  const logged = loggedModelIdOf(v.source);
  if (logged) return (await loggedModelsOf(from)?.getLoggedModel(logged))?.name ?? 'model';
  const runs = /^runs:\/[^/]+\/(.+)$/.exec(v.source);
  if (runs) return strip(runs[1]);
  const root = strip(runRoot);
  for (const cand of [v.source, v.storageLocation ?? '']) {
    const c = strip(cand);
    if (c.startsWith(`${root}/`)) return c.slice(root.length + 1);
    const lc = localPathOf(c);
    const lr = localPathOf(root);
    if (lc && lr && lc.startsWith(`${lr}${path.sep}`)) return path.relative(lr, lc).split(path.sep).join('/');
  }
  return null;
}

/**
 * Copy the registry of `from` to `to`. `runIds` maps source run ids to the target's (what
 * {@link syncRuns} reported); versions of runs not in it are skipped and named in the report.
 * Stores without a registry on either side: nothing to do.
 */
export async function syncRegistry(from: TrackingStore, to: TrackingStore, runIds: Map<string, string>): Promise<RegistrySyncReport> {
  const report: RegistrySyncReport = { models: 0, versionsCreated: 0, versionsPresent: 0, aliasesSet: 0, skipped: [] };
  const source = registryOrNull(from);
  if (!source) return report;
  const models = await source.listRegisteredModels();
  if (models.length === 0) return report;
  const target = registryOrNull(to);
  if (!target) {
    report.skipped.push(`${models.length} registered model(s): ${to.displayUri} has no model registry`);
    return report;
  }
  const logged = loggedModelsOf(to);
  for (const model of models) {
    throwIfInterrupted();
    const versions = await source.listModelVersions(model.name);
    const copyable = versions.filter((v) => v.runId !== null && runIds.has(v.runId));
    for (const v of versions) if (!copyable.includes(v)) report.skipped.push(`${model.name} version ${v.version}: its run ${v.runId ?? '(none)'} was not synced`);
    if (versions.length > 0 && copyable.length === 0) continue;
    await target.getOrCreateRegisteredModel(model.name);
    report.models++;
    const existing = await target.listModelVersions(model.name);
    const used = new Set<number>();
    /** Source version number → target version number. */
    const mapped = new Map<number, number>();
    for (const v of copyable) {
      throwIfInterrupted();
      const remoteRunId = runIds.get(v.runId!)!;
      const present = existing.find((t) => !used.has(t.version) && t.runId === remoteRunId);
      if (present) {
        used.add(present.version);
        mapped.set(v.version, present.version);
        report.versionsPresent++;
        continue;
      }
      const localRun = await from.getRun(v.runId!);
      const artifact = await artifactOf(from, v, localRun.info.artifactUri);
      if (artifact === null) {
        report.skipped.push(`${model.name} version ${v.version}: its source ${v.source} is not an artifact of run ${v.runId}`);
        continue;
      }
      const remoteRun = await to.getRun(remoteRunId);
      let lm: LoggedModel | null = logged ? await logged.findLoggedModel(remoteRunId, artifact) : null;
      if (!lm && logged) lm = await loggedModelFromRun(from, v.runId!, artifact, logged, remoteRunId);
      const created = await target.createModelVersion({
        name: model.name,
        source: lm ? `models:/${lm.modelId}` : `${remoteRun.info.artifactUri.replace(/\/+$/, '')}/${artifact}`,
        runId: remoteRunId,
        ...(lm ? { storageLocation: lm.artifactLocation, modelId: lm.modelId } : {}),
      });
      if (lm && logged) await logged.linkModelVersion(lm.modelId, model.name, created.version);
      used.add(created.version);
      mapped.set(v.version, created.version);
      report.versionsCreated++;
    }
    const targetAliases = (await target.getRegisteredModel(model.name)).aliases;
    for (const [alias, version] of Object.entries(model.aliases).sort(([a], [b]) => a.localeCompare(b))) {
      const t = mapped.get(version);
      if (t === undefined || targetAliases[alias] === t) continue;
      await target.setAlias(model.name, alias, t);
      report.aliasesSet++;
    }
  }
  return report;
}

/** Make the target's logged model of a synced run from the source run's model files (an MLflow 3 target). */
async function loggedModelFromRun(
  from: TrackingStore,
  localRunId: string,
  artifact: string,
  logged: NonNullable<ReturnType<typeof loggedModelsOf>>,
  remoteRunId: string,
): Promise<LoggedModel | null> {
  return withScratchDir('lpclust-sync-model-', async (tmp) => {
    const local = await from.downloadArtifacts(localRunId, artifact, tmp);
    const lm = await logged.startLoggedModel(remoteRunId, path.posix.basename(artifact));
    if (!lm) return null;
    // The copy's MLmodel names the target's model, as one MLflow 3 logged there would.
    await stampMlmodel(path.join(local, 'MLmodel'), lm);
    return await logged.completeLoggedModel(lm, local);
  });
}

/**
 * Write a logged model's id into a copied `MLmodel` as MLflow 3 has it (`model_id`, `model_uuid` =
 * the id, `artifact_path` = the model's location), keys kept sorted as MLflow writes them; other
 * fields and their quoting are kept. A folder without `MLmodel` is left as it is.
 */
async function stampMlmodel(file: string, lm: LoggedModel): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return;
  }
  const doc = YAML.parseDocument(text);
  if (!YAML.isMap(doc.contents)) return;
  doc.set('artifact_path', lm.artifactLocation);
  doc.set('model_id', lm.modelId);
  doc.set('model_uuid', lm.modelId);
  const key = (k: unknown): string => String(YAML.isScalar(k) ? k.value : k);
  doc.contents.items.sort((a, b) => (key(a.key) < key(b.key) ? -1 : key(a.key) > key(b.key) ? 1 : 0));
  await writeFileAtomic(file, doc.toString({ lineWidth: 0 }));
}
