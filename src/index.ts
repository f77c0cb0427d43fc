// The cusnn package as a library: `import { generate, loadNetwork } from 'cusnn'`.
// The CLI (cusnn-gen) is built from the same functions; this entry runs nothing on import.

// Generate a folder of kernels, plan, report and CMake build for a model and an arch.
export { generate, defaultOutDir, type GenerateOptions, type Generated } from './generate.js';
// Build a generated folder's Node addon (needs nvcc and cuDNN), and run it on the GPU.
export { buildAddon, type BuildAddonOptions, type AddonManifest } from './toolchain/addon.js';
export { loadNetwork, readPlanFile, Network, type LoadOptions as NetworkLoadOptions, type SwitchMode, type Decisions, type LayerInfo } from './runtime/network.js';
export { listImages, readImage, IMAGE_SHAPE } from './runtime/images.js';
// Models, GPU profiles, weights, sparsity and the planner.
export { buildModel, MODEL_NAMES, isModelName, type ModelName } from './model/zoo/index.js';
export { paramCount, paramSpecs, type Graph, type Layer, type ConvLayer, type Shape } from './model/ir.js';
// ONNX models: a zoo name or an .onnx file as a graph (and its weights), and a graph written as ONNX.
export { resolveModel, resolvedWeights, type ResolvedModel, type ModelFileRef } from './model/resolve.js';
export { exportOnnx, writeOnnx } from './model/onnx/export.js';
export { ARCH_NAMES, gpuProfile, isArchName, type ArchName, type GpuProfile } from './arch/profiles.js';
export { loadWeights, saveWeights, type LoadOptions as WeightsLoadOptions } from './weights/load.js';
export { syntheticWeights } from './weights/synthetic.js';
export { pruneWeights, type PruneMode, type PruneOptions, type PruneResult } from './weights/prune.js';
export type { WeightSet } from './weights/store.js';
export { readCalibration, type Calibration, type CalibratedLayer } from './sparsity/calibration.js';
export { planNetwork, type PlanOptions } from './plan/planner.js';
export type { NetworkPlan, ConvPlan, Decision, ConvWeightFacts, MeasuredDecision, MeasuredKernelTime } from './plan/types.js';
export type { ActSparseKernelSpec } from './families/act-sparse/spec.js';
export type { Emitted, EmittedKernel } from './codegen/emit.js';
// Output folders and exit codes, as the CLI uses them.
export { checkOutDir, type OutState } from './output/folder.js';
export { EXIT } from './output/exit.js';
