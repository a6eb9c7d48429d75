/**
 * Behaviour verification (docs/design.md, "Verification").
 *
 * Glossary:
 * - reference inputs: deterministic, seeded inputs built from a model's signature at commit (inputs.ts),
 *   or inputs the user gives.
 * - record: the commit's `verification` field: per model, the stored inputs and outputs (record.ts).
 * - check: rerun the recorded inputs on a rebuilt model and compare outputs (check.ts, compare.ts).
 * - tolerance: allclose-style bounds, |actual − expected| ≤ atol + rtol·|expected| per element.
 */
export { recordVerification, type RecordOptions, type VerifySettings } from './record.js'
export { checkVerification, type CheckOptions, type ModelCheck, type VerificationReport } from './check.js'
export { compareOutputs, DEFAULT_TOLERANCE, type OutputComparison, type Tolerance } from './compare.js'
export { bindInputs } from '../../formats/tensor-data.js'
export { DEFAULT_SEED, concreteShape, mulberry32, parseInputsFile, referenceInputs, uniform01 } from './inputs.js'
export { readTensor, readTensorData, storeTensorData } from './tensors.js'
export type { ModelVerification, VerificationRecord } from '../../format/verification.js'
export { failIfFailed, modelsOf, verifyCheckout, verifyVersion, type CheckSettings } from './version.js'
