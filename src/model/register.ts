/**
 * Registering a run's model: `--register-model NAME` of `cluster`, `pipeline` and `sweep`, and
 * the library of `lpclust models`. A version points at the `model/` artifact of the run that
 * holds it (a pipeline's clustering run, a sweep's best configuration), by the artifact URI
 * MLflow itself records as the version's source.
 */
import { loggedModelsOf, registryOf, validateModelName, type ModelRegistry, type ModelVersion } from '../tracking/registry.js';
import type { TrackingStore } from '../tracking/store.js';
import { externalError } from '../errors.js';
import { isUnavailable } from '../tracking/rest-client.js';
import { log } from '../util/log.js';
import { findModelRun, type ModelRun } from './resolve.js';

/** Result of {@link registerRunModel}. */
export interface Registration {
  version: ModelVersion;
  /** The run whose `model/` was registered (a child of the run given, for a pipeline or sweep). */
  modelRunId: string;
  /** Set when the run given was a parent: how the model run was reached. */
  followed?: string;
  /**
   * Set when the server was unreachable and the run is in the local spool: the registration was
   * recorded in the spool's registry (this folder), and `lpclust sync` makes it on the server.
   */
  spooled?: { spoolDir: string; remoteUri: string };
}

/** A store that spools runs while its server is unreachable (the ResilientStore). */
interface SpoolingStore {
  readonly offline: boolean;
  spooledRegistration(runId: string): { registry: ModelRegistry; runId: string; spoolDir: string; remoteUri: string } | null;
}

function spoolingOf(store: TrackingStore): SpoolingStore | null {
  return typeof (store as Partial<SpoolingStore>).spooledRegistration === 'function' ? (store as unknown as SpoolingStore) : null;
}

/**
 * Check, before a run starts, that `name` can be registered in this store: a valid name and a
 * store with a registry. Returns the registry so that a failure is known before hours of work.
 * @throws LpclustError E_REGISTRY_NAME, E_REGISTRY_UNSUPPORTED
 */
export function checkRegistration(store: TrackingStore, name: string): ModelRegistry {
  validateModelName(name);
  return registryOf(store);
}

/**
 * Register the model of a finished run as a new version of `name` (the model is created when
 * missing). `runId` may be a pipeline or sweep run: its clustering run, or the run of its best
 * configuration, is registered ({@link findModelRun}).
 * @throws LpclustError E_MODEL_NOT_FOUND (the run holds no model), E_REGISTRY_*, store errors
 */
export async function registerRunModel(store: TrackingStore, runId: string, name: string): Promise<Registration> {
  const registry = checkRegistration(store, name);
  const found = await findModelRun(store, runId, 'model');
  const spooling = spoolingOf(store);
  const inSpool = spooling?.spooledRegistration(found.run.info.runId) ?? null;
  // A spooled run is not on the server yet: its registration waits in the spool for lpclust sync.
  if (inSpool && spooling?.offline) return registerInSpool(inSpool, found, name);
  try {
    return await register(store, registry, found, name);
  } catch (e) {
    if (!isUnavailable(e)) throw e;
    const late = spooling?.spooledRegistration(found.run.info.runId) ?? null;
    if (late) return registerInSpool(late, found, name);
    throw externalError('E_REGISTRY_UNAVAILABLE', `could not register the model of run ${found.run.info.runId} as "${name}": ${(e as Error).message}`, {
      hint: `the run is on the server, which must be reachable to register it: run \`lpclust models register ${name} ${found.run.info.runId}\` once it is back`,
      cause: e,
    });
  }
}

/**
 * Record a registration in the spool's own registry (a version pointing at the spooled run's
 * `model/`), so that `lpclust sync` of the spool registers it on the server with the run.
 */
async function registerInSpool(
  spool: { registry: ModelRegistry; runId: string; spoolDir: string; remoteUri: string },
  found: ModelRun,
  name: string,
): Promise<Registration> {
  const source = `${found.run.info.artifactUri.replace(/\/+$/, '')}/model`;
  await spool.registry.getOrCreateRegisteredModel(name);
  const version = await spool.registry.createModelVersion({ name, source, runId: spool.runId });
  log.warn(
    `the tracking server is unreachable: the registration of run ${found.run.info.runId} as "${name}" is kept in the spool ${spool.spoolDir} with the run; ` +
      `\`lpclust sync --from ${spool.spoolDir} --to ${spool.remoteUri}\` uploads the run and registers it on the server`,
  );
  return { version, modelRunId: found.run.info.runId, ...(found.followed ? { followed: found.followed } : {}), spooled: { spoolDir: spool.spoolDir, remoteUri: spool.remoteUri } };
}

async function register(store: TrackingStore, registry: ModelRegistry, found: ModelRun, name: string): Promise<Registration> {
  const run = found.run;
  // MLflow 3 registers the logged model (source models:/<model_id>); MLflow 2 the run's artifact URI.
  const logged = loggedModelsOf(store);
  const lm = logged ? await logged.findLoggedModel(run.info.runId, 'model') : null;
  const source = lm ? `models:/${lm.modelId}` : `${run.info.artifactUri.replace(/\/+$/, '')}/model`;
  await registry.getOrCreateRegisteredModel(name);
  const version = await registry.createModelVersion({
    name,
    source,
    runId: run.info.runId,
    ...(lm ? { storageLocation: lm.artifactLocation, modelId: lm.modelId } : {}),
  });
  if (lm && logged) await logged.linkModelVersion(lm.modelId, name, version.version);
  return { version, modelRunId: run.info.runId, ...(found.followed ? { followed: found.followed } : {}) };
}

/** The line commands print after registering. */
export function registrationLine(r: Registration): string {
  if (r.spooled) {
    return `registration of run ${r.modelRunId} as "${r.version.name}" kept in the spool ${r.spooled.spoolDir} (server unreachable): ` +
      `lpclust sync --from ${r.spooled.spoolDir} --to ${r.spooled.remoteUri} registers it`;
  }
  return `registered ${r.version.source} (run ${r.modelRunId}) as version ${r.version.version} of "${r.version.name}": models:/${r.version.name}/${r.version.version}`;
}

/** The `registered` object of a command's `--json` output. */
export function registeredJson(r: Registration): { name: string; version: number; uri: string; source: string; runId: string; spooled?: string } {
  return {
    name: r.version.name,
    version: r.version.version,
    uri: `models:/${r.version.name}/${r.version.version}`,
    source: r.version.source,
    runId: r.modelRunId,
    // The version number and URI are the spool's until lpclust sync registers it on the server.
    ...(r.spooled ? { spooled: r.spooled.spoolDir } : {}),
  };
}
