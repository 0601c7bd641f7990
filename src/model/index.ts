/**
 * Saved clustering models: the `model/` artifact (MLmodel + versioned JSON), loading from a path
 * or `runs:/<run-id>/model`, predicting new days, and the MLflow-protocol scoring server.
 */
export {
  MODEL_JSON,
  MLMODEL_FILE,
  MODEL_FORMAT_VERSION,
  buildModel,
  saveModel,
  loadModelFile,
  mlmodelYaml,
  mlmodelInfo,
  pythonJson,
  logModelHistory,
  LOG_MODEL_HISTORY_TAG,
  type MlmodelInfo,
  packageVersion,
  type LpclustModel,
  type ModelDtwSettings,
  type ModelMedoid,
  type BuildModelInput,
} from './artifact.js';
export { Predictor, checkInputSlots, labelAgreement, type Prediction } from './predict.js';
export { resolveModel, logModel, predictFile, type LoadedModel, type PredictFileResult } from './resolve.js';
export { registerRunModel, checkRegistration, registrationLine, type Registration } from './register.js';
