/** The MLflow-protocol scoring server of `lpclust serve`. */
export { startScoringServer, parseInvocation, scoreInvocation, DEFAULT_MAX_BODY_MB, type ScoringServer, type ScoringServerOptions, type ScoredRow } from './server.js';
