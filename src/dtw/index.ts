/**
 * The DTW engine: kernels (native SIMD addon and TypeScript), DTW with warping path, the tiled
 * worker-thread matrix writer and the matrix sidecar checks. The naive definition (dtwNaive,
 * dtwPathNaive) is exported from reference.ts.
 */
export { dtwDistance, dtwBlock, dtwToMany, selectKernel, KERNEL_CHOICES, type KernelChoice, type DtwKernel, type DtwCallOptions } from './kernel.js';
export { dtwDistanceJs, dtwBlockJs, dtwToManyJs, type DtwBlock, type DtwPrecision, type SeriesMatrix } from './kernel-js.js';
export { BandedDtw, type WarpingPath } from './banded.js';
export {
  DEFAULT_RADIUS,
  DEFAULT_DTW_SETTINGS,
  checkRadius,
  parseRadius,
  isRadius,
  effectiveRadius,
  radiusParam,
  radiusFromParam,
  radiusJson,
  radiusFromJson,
  dtwSettings,
  dtwSettingsJson,
  dtwSettingsFromJson,
  dtwSettingsParams,
  type Radius,
  type RadiusParam,
  type RadiusJson,
  type DtwSettings,
  type DtwSettingsJson,
} from './settings.js';
export { loadNative, nativeStatus, type NativeStatus, type NativeAddon } from './native.js';
export {
  computeDtwMatrix,
  assertMatrixMatches,
  loadDtwMatrix,
  checkSeries,
  bandCells,
  idsDigest,
  sidecarPathFor,
  lpclustVersion,
  matrixShape,
  condensedRows,
  MATRIX_LAYOUTS,
  type MatrixLayout,
  type DtwSidecar,
  type DtwMatrixOptions,
  type DtwMatrixResult,
  type MatrixCheckOptions,
} from './matrix.js';
export { AssignPool, assignNearest, assignChunk, ASSIGN_CHUNK_ROWS, type AssignOptions, type AssignResult } from './assign.js';
export { envelopes, lbKim2, lbKeogh2, type Envelopes } from './bounds.js';
export { sampleMatrix } from './sample-matrix.js';
