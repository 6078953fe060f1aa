/**
 * The small modules the unit project tests, imported from src/ in one place: when a module moves,
 * this file is the one to change. Nothing here starts a server, a process or a worker.
 */
export { canonicalJson } from '../../src/core/canonical.js';
export { parseJson, plainDecimal, stringifyJsonIndented } from '../../src/core/json-text.js';
export type { HistoryEntry } from '../../src/core/rollout.js';
export type { Json, Observation } from '../../src/core/types.js';
export { readLines, readLinesSync } from '../../src/ingest/lines.js';
export { transientMatcher } from '../../src/ingest/transient.js';
export { jsonEqual, sameOutput } from '../../src/replay/compare.js';
export { withoutTrajectoryId } from '../../src/rollouts/memo-text.js';
export { nameWords, WriteRule, writesByName } from '../../src/rollouts/write-rule.js';
export { disagreements, promptShape, shapeJson, shapeSchema } from '../../src/shapes/describe.js';
export { EMBEDDED_CHARS, readEmbedded, readPython } from '../../src/shapes/embedded.js';
export { MAX_MISFITS, MISFIT_CHARS, misfits, refusals } from '../../src/shapes/guard.js';
export { learnFromStored } from '../../src/shapes/learn.js';
export { compileSchema } from '../../src/shapes/schema-guard.js';
export { learnShape, MAX_DEPTH, MAX_NODES, type OutputShape } from '../../src/shapes/shape.js';
export { IngestLock, IngestLockedError, lockPathOf } from '../../src/store/ingest-lock.js';
export { addToFingerprint, emptyFingerprint, identityOf, snapshotIdOf } from '../../src/store/snapshot-id.js';
export { ANSWER_ENTRY_BYTES, AnswerLru, AnswerMemory, MISS_ENTRY_BYTES, stringBytes } from '../../src/tiers/answer-lru.js';
export { checkAnswer, jsonType, MIN_LIMIT } from '../../src/tiers/fuzzy/answer-check.js';
export { CircuitBreaker } from '../../src/tiers/fuzzy/breaker.js';
export { Budget } from '../../src/tiers/fuzzy/budget.js';
export { historyBlock } from '../../src/tiers/fuzzy/history-prompt.js';
export { buildPrompt, estimateTokens, PROMPT_VERSION, retryNote } from '../../src/tiers/fuzzy/prompt.js';
export { Semaphore } from '../../src/tiers/fuzzy/semaphore.js';
