/** What MLflow shows of an experiment's runs, independent of the store they are in. */
import type { TrackingStore } from '../../src/tracking/store.js';

/** What MLflow shows of a pipeline, independent of ids, times and paths: one line per run. */
export async function shape(store: TrackingStore, experiment = 'lpclust'): Promise<string[]> {
  const exp = await store.getExperimentByName(experiment);
  if (!exp) return [];
  const runs = await store.searchRuns({ experimentIds: [exp.experimentId] });
  const nameOf = new Map(runs.map((r) => [r.info.runId, r.info.runName]));
  const volatile = new Set(['lpclust.clientRunId', 'lpclust.syncSourceRunId', 'lpclust.remoteRunId', 'lpclust.owner']);
  const out: string[] = [];
  for (const r of runs) {
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await store.listArtifacts(r.info.runId, dir)) if (e.isDir) await walk(e.path);
      else files.push(e.path);
    };
    await walk('');
    const histories: string[] = [];
    for (const k of Object.keys(r.data.metrics).sort()) histories.push(`${k}×${(await store.getMetricHistory(r.info.runId, k)).length}`);
    out.push(
      JSON.stringify({
        name: r.info.runName,
        parent: nameOf.get(r.data.tags['mlflow.parentRunId'] ?? '') ?? null,
        status: r.info.status,
        params: Object.keys(r.data.params).sort(),
        metrics: histories,
        tags: Object.keys(r.data.tags).filter((k) => !volatile.has(k)).sort(),
        artifacts: files.sort(),
      }),
    );
  }
  return out.sort();
}
