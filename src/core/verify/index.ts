/**
 * Behaviour verification (docs/design.md, "Verification").
 *
 * Glossary:
 * - reference inputs: deterministic, seeded inputs built from a model's signature at commit (inputs.ts),
 *   or inputs the user gives.
 * - record: the commit's `verification` field: per model, the stored inputs and outputs (record.ts).
 * - check: rerun the recorded inputs on a rebuilt model and compare outputs (check.ts, compare.ts).
 * - reference: what is kept of an output (digest, whole tensor or a sample, statistics) and its
 *   comparison rule and tolerance on other runtimes (reference.ts).
 * - fingerprint: what decides a runtime's numerics; equal fingerprints must give identical bytes.
 * - tolerance: allclose-style bounds, |actual − expected| ≤ atol + rtol·|expected| per element.
 */
export { INPUT_GENERATOR, KEEP_FRACTION, MAX_KEEP, MIN_KEEP, keepBudget, recordVerification, type RecordOptions, type VerifyProgress, type VerifySettings } from './record.js'
export { checkVerification, recordedInputs, type CheckOptions, type ModelCheck, type VerificationReport } from './check.js'
export { FALLBACK, FLOOR, NOISE, SAFETY, checkLegacy, checkOutput, deriveCheck, elementDiff, keepOf, keptPart, samplePositions, scaleOf, setDiff, sha256Hex, statsOf, type OutputResult } from './reference.js'
export { isNpy, isZip, parseNpy, parseNpz, unzip } from './npy.js'
export { compareOutputs, DEFAULT_TOLERANCE, type OutputComparison, type Tolerance } from './compare.js'
export { bindInputs } from '../../formats/tensor-data.js'
export { DEFAULT_SEED, concreteShape, conformInputs, mulberry32, parseInputs, parseInputsFile, referenceInputs, uniform01 } from './inputs.js'
export { readTensor, readTensorData, storeTensorData } from './tensors.js'
export type { ModelVerification, VerificationRecord } from '../../format/verification.js'
export { failIfFailed, modelsOf, verifyCheckout, verifyVersion, type CheckSettings } from './version.js'
export { diskRanges, storeRanges } from './files.js'
