/** Shared helpers of the REST store tests: a contract server, stores with short backoffs, the CLI. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ContractServer, type ContractServerOptions } from '../support/contract-server.js';
import { RestStore } from '../../src/tracking/rest-store.js';
import type { RestClientOptions } from '../../src/tracking/rest-client.js';

/** Transport options with test-sized timeouts and backoffs (tests stay fast). */
export function fastOptions(baseUrl: string, over: Partial<RestClientOptions> = {}): RestClientOptions {
  return {
    baseUrl,
    insecureTls: false,
    timeoutSeconds: 2,
    maxRetries: 3,
    backoffFactor: 0.01,
    backoffJitter: 0.01,
    maxBackoffSeconds: 5,
    ...over,
  };
}

export async function startServer(options: ContractServerOptions = {}): Promise<ContractServer> {
  return new ContractServer(options).start();
}

export function restStore(server: ContractServer, over: Partial<RestClientOptions> = {}): RestStore {
  return new RestStore(server.url, { client: fastOptions(server.url, over) });
}

/** A minimal createRun request. */
export function runRequest(experimentId: string, runName = 'r', tags: Array<{ key: string; value: string }> = []) {
  return { experimentId, runName, userId: 'tester', startTime: 1_700_000_000_000, tags };
}

/** What a spawned CLI process returned. */
export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Run the CLI from the TypeScript sources in `cwd` (spawned with `node --import tsx`), with the
 * tracking environment cleared and test-sized HTTP retries; `env` adds to or overrides that.
 */
export function runCli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  // The tsx loader by absolute URL: the CLI runs in a temporary directory.
  const tsx = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, path.join(root, 'test/tracking-rest/cli-launcher.ts'), ...args],
      {
        cwd,
        env: {
          ...process.env,
          MLFLOW_TRACKING_URI: '',
          LPCLUST_TRACKING_URI: '',
          MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1',
          MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01',
          MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0.01',
          MLFLOW_HTTP_REQUEST_TIMEOUT: '5',
          ...env,
        },
        timeout: 55_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
