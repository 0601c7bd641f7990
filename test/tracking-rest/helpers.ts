/** Shared helpers of the REST store tests: a contract server and stores with short backoffs. */
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
