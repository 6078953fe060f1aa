/** Tool names as agents' protocols spell them: see src/core/tool-names.ts, which the catalog shares. */
export { ALIAS_PREFIX, aliasOf, listedTools, nameProblem, splitName } from '../../core/tool-names.js';
